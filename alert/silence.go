package alert

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Silence mutes the alerts its matchers select between StartsAt and
// EndsAt, as an Alertmanager silence does: they are still tracked and
// shown, only not notified.
type Silence struct {
	ID        string    `json:"id"`
	Matchers  []Matcher `json:"matchers"`
	StartsAt  time.Time `json:"startsAt"`
	EndsAt    time.Time `json:"endsAt"`
	CreatedBy string    `json:"createdBy"`
	Comment   string    `json:"comment"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Silence states.
const (
	SilencePending = "pending"
	SilenceActive  = "active"
	SilenceExpired = "expired"
)

// State is pending before StartsAt, active until EndsAt, then expired.
func (s Silence) State(now time.Time) string {
	switch {
	case now.Before(s.StartsAt):
		return SilencePending
	case now.Before(s.EndsAt):
		return SilenceActive
	}
	return SilenceExpired
}

// silenceRetention is how long an expired silence is still listed, as
// Alertmanager's default data retention.
const silenceRetention = 120 * time.Hour

// validate checks a silence as Alertmanager does before it is stored.
func (s *Silence) validate(now time.Time) error {
	if len(s.Matchers) == 0 {
		return errors.New("silence: at least one matcher is needed")
	}
	empty := true
	for i := range s.Matchers {
		if err := s.Matchers[i].compile(); err != nil {
			return fmt.Errorf("silence: %w", err)
		}
		if !s.Matchers[i].Matches(map[string]string{}) {
			empty = false
		}
	}
	if empty {
		// Such a silence would mute every alert, including ones nobody
		// has thought of yet.
		return errors.New("silence: at least one matcher must not match the empty string")
	}
	if s.StartsAt.IsZero() {
		s.StartsAt = now
	}
	if s.EndsAt.IsZero() {
		return errors.New("silence: endsAt is required")
	}
	if !s.EndsAt.After(s.StartsAt) {
		return errors.New("silence: endsAt must be after startsAt")
	}
	if !s.EndsAt.After(now) {
		return errors.New("silence: endsAt is in the past")
	}
	if s.CreatedBy == "" {
		return errors.New("silence: createdBy is required")
	}
	s.Comment = truncate(s.Comment, 1000)
	s.CreatedBy = truncate(oneLine(s.CreatedBy), 200)
	return nil
}

func newSilenceID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// InhibitRule mutes the alerts matching TargetMatchers while an alert
// matching SourceMatchers fires with the same values of the Equal labels:
// Alertmanager's inhibit_rules. An alert never inhibits itself.
type InhibitRule struct {
	SourceMatchers []Matcher `json:"sourceMatchers"`
	TargetMatchers []Matcher `json:"targetMatchers"`
	Equal          []string  `json:"equal"`
}

// DefaultInhibitRules: a critical status of a target mutes that target's
// warnings, which it explains; one-time notices (events) are never muted.
func DefaultInhibitRules() []InhibitRule {
	must := func(s string) []Matcher {
		ms, err := ParseMatchers(s)
		if err != nil {
			panic(err)
		}
		return ms
	}
	return []InhibitRule{{
		SourceMatchers: must(`alertname="status",severity="critical"`),
		TargetMatchers: must(`severity="warning",event!="true"`),
		Equal:          []string{"target"},
	}}
}

// inhibitedBy returns the fingerprint of a firing alert that inhibits
// target under one of the rules, or false.
func inhibitedBy(rules []InhibitRule, target *entry, firing []*entry) (uint64, bool) {
	for _, r := range rules {
		if !matchAll(r.TargetMatchers, target.labels) {
			continue
		}
		targetIsSource := matchAll(r.SourceMatchers, target.labels)
		for _, src := range firing {
			if src.fp == target.fp || !matchAll(r.SourceMatchers, src.labels) {
				continue
			}
			// Alertmanager's rule for an alert on both sides: it is only
			// inhibited by sources that are not targets themselves, so two
			// such alerts cannot mute each other.
			if targetIsSource && matchAll(r.TargetMatchers, src.labels) {
				continue
			}
			equal := true
			for _, l := range r.Equal {
				if src.labels[l] != target.labels[l] {
					equal = false
					break
				}
			}
			if equal {
				return src.fp, true
			}
		}
	}
	return 0, false
}
