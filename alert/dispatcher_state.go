package alert

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/perfengine/perfengine/store"
)

// StateKey is the key under which the dispatcher keeps its state.
const StateKey = "alert.dispatcher"

// ErrUnknownSilence is returned for a silence ID the dispatcher does not hold.
var ErrUnknownSilence = errors.New("alert: no such silence")

// savedState is what survives a restart: the notification log, so groups
// are not notified again, and the silences.
type savedState struct {
	Version  int                   `json:"version"`
	Nflog    map[string]nflogEntry `json:"nflog"`
	Silences []Silence             `json:"silences"`
}

func (d *Dispatcher) load(ctx context.Context) error {
	theirs, err := d.readState(ctx)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.merge(theirs)
	d.lastSync = time.Now()
	return nil
}

// readState reads the stored state; none is an empty state.
func (d *Dispatcher) readState(ctx context.Context) (savedState, error) {
	var s savedState
	b, err := d.opts.State.GetState(ctx, StateKey)
	if errors.Is(err, store.ErrNotFound) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("decode: %w", err)
	}
	return s, nil
}

// merge takes what another dispatcher on the same store (another engine of
// the fleet, or this one before a restart) knows and this one does not:
// per group and channel the newest notification, per silence the newest
// version, as Alertmanager's cluster merges its gossip. It reports whether
// this dispatcher knows something the stored state lacks, which then needs
// writing. Runs under mu.
func (d *Dispatcher) merge(theirs savedState) (oursNewer bool) {
	now := time.Now()
	for k, e := range theirs.Nflog {
		if d.nflogExpired(e, now) {
			continue // gc dropped it here; keep it out of the next write
		}
		if mine, ok := d.nflog[k]; !ok || e.At.After(mine.At) {
			d.nflog[k] = e
		}
	}
	for k, mine := range d.nflog {
		if e, ok := theirs.Nflog[k]; !ok || mine.At.After(e.At) {
			oursNewer = true
		}
	}
	stored := map[string]Silence{}
	for _, sil := range theirs.Silences {
		if now.Sub(sil.EndsAt) > silenceRetention {
			continue
		}
		if err := sil.compileMatchers(); err != nil {
			d.opts.Logger.Warn("saved silence dropped", "id", sil.ID, "err", err)
			continue
		}
		stored[sil.ID] = sil
		if mine, ok := d.silences[sil.ID]; !ok || sil.UpdatedAt.After(mine.UpdatedAt) {
			d.silences[sil.ID] = sil
		}
	}
	for id, mine := range d.silences {
		if sil, ok := stored[id]; !ok || mine.UpdatedAt.After(sil.UpdatedAt) {
			oursNewer = true
		}
	}
	return oursNewer
}

func (s *Silence) compileMatchers() error {
	for i := range s.Matchers {
		if err := s.Matchers[i].compile(); err != nil {
			return err
		}
	}
	return nil
}

// snapshot returns the state to save, and clears dirty. Runs under mu.
func (d *Dispatcher) snapshot() savedState {
	d.dirty = false
	return savedState{
		Version:  1,
		Nflog:    maps.Clone(d.nflog),
		Silences: slices.Collect(maps.Values(d.silences)),
	}
}

// save merges the stored state with this dispatcher's and writes the
// union when this one knows something the store lacks: engines that share
// a store (a fleet on one PostgreSQL) share what was notified and the
// silences, and a write lost to a concurrent one is made again at the next
// sync. A failure is logged and retried at the next tick.
func (d *Dispatcher) save(ctx context.Context) {
	if d.opts.State == nil {
		return
	}
	d.mu.Lock()
	due := (d.dirty || time.Since(d.lastSync) >= d.opts.SyncInterval) && !d.handedOver
	d.mu.Unlock()
	if !due {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	theirs, err := d.readState(sctx)
	if err != nil {
		d.opts.Logger.Warn("read alert state", "err", err)
		return
	}
	d.mu.Lock()
	write := d.merge(theirs)
	s := d.snapshot()
	d.lastSync = time.Now()
	d.mu.Unlock()
	if !write {
		return
	}
	b, err := json.Marshal(s)
	if err == nil {
		err = d.opts.State.PutState(sctx, StateKey, b)
	}
	if err != nil {
		d.opts.Logger.Warn("save alert state", "err", err)
		d.mu.Lock()
		d.dirty = true
		d.mu.Unlock()
	}
}

// Adopt takes over the alerts, groups, notification log and silences of
// the dispatcher this one replaces (a reconfiguration), so nothing is sent
// twice, no resolution is missed and no silence is lost. Call it before
// Start.
func (d *Dispatcher) Adopt(prev *Dispatcher) {
	if prev == nil || prev == d {
		return
	}
	prev.mu.Lock()
	s := prev.snapshot()
	// From now on this one keeps the state; prev saving on Stop would
	// overwrite newer state with older.
	prev.handedOver = true
	groups := map[*aggrGroup]*aggrGroup{}
	d.mu.Lock()
	defer d.mu.Unlock()
	for fp, e := range prev.alerts {
		c := *e
		c.group = nil
		if e.group != nil {
			g := groups[e.group]
			if g == nil {
				g = &aggrGroup{key: e.group.key, labels: e.group.labels, alerts: map[uint64]*entry{},
					next: e.group.next, flushed: e.group.flushed}
				groups[e.group] = g
				d.groups[g.key] = g
			}
			c.group = g
			g.alerts[fp] = &c
		}
		d.alerts[fp] = &c
	}
	prev.mu.Unlock()
	maps.Copy(d.nflog, s.Nflog)
	for _, sil := range s.Silences {
		d.silences[sil.ID] = sil
	}
	d.adopted = true
}

// AddSilence validates and stores a silence, or replaces the one with the
// same ID, and returns it with its ID and times filled in.
func (d *Dispatcher) AddSilence(s Silence) (Silence, error) {
	now := time.Now()
	if err := s.validate(now); err != nil {
		return s, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if s.ID == "" {
		s.ID = newSilenceID()
	} else if _, ok := d.silences[s.ID]; !ok {
		return s, ErrUnknownSilence
	}
	s.UpdatedAt = now
	d.silences[s.ID] = s
	d.dirty = true
	d.poke()
	return s, nil
}

// ExpireSilence ends a silence now; the alerts it muted notify at their
// group's next interval.
func (d *Dispatcher) ExpireSilence(id string) error {
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	s, ok := d.silences[id]
	if !ok {
		return ErrUnknownSilence
	}
	if s.State(now) == SilenceExpired {
		return nil
	}
	if s.StartsAt.After(now) {
		s.StartsAt = now
	}
	s.EndsAt, s.UpdatedAt = now, now
	d.silences[id] = s
	d.dirty = true
	return nil
}

// Silences lists the silences, the active and pending first, each group
// newest first.
func (d *Dispatcher) Silences() []Silence {
	now := time.Now()
	d.mu.Lock()
	out := slices.Collect(maps.Values(d.silences))
	d.mu.Unlock()
	rank := func(s Silence) int {
		if s.State(now) == SilenceExpired {
			return 1
		}
		return 0
	}
	slices.SortFunc(out, func(a, b Silence) int {
		return cmp.Or(cmp.Compare(rank(a), rank(b)), b.UpdatedAt.Compare(a.UpdatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// AlertStatus is an alert as the dispatcher holds it: for the API and the
// dashboard.
type AlertStatus struct {
	Alert       Alert             `json:"alert"`
	Labels      map[string]string `json:"labels"`
	Fingerprint string            `json:"fingerprint"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	// State is active, suppressed (silenced or inhibited) or resolved.
	State       string   `json:"state"`
	SilencedBy  []string `json:"silencedBy,omitempty"`
	InhibitedBy []string `json:"inhibitedBy,omitempty"`
	Group       string   `json:"group,omitempty"`
}

// Alerts lists the alerts the dispatcher holds, firing first, each part
// oldest first.
func (d *Dispatcher) Alerts() []AlertStatus {
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	firing := d.firing(now)
	out := make([]AlertStatus, 0, len(d.alerts))
	for _, e := range d.alerts {
		st := AlertStatus{
			Alert: e.alert, Labels: maps.Clone(e.labels), Fingerprint: strconv.FormatUint(e.fp, 16),
			StartsAt: e.startsAt, EndsAt: e.endsAt, State: "active",
		}
		if e.group != nil {
			st.Group = e.group.key
		}
		switch {
		case e.resolvedAt(now):
			st.State = "resolved"
			st.Alert.Resolved = true
		default:
			if id, ok := d.silencedBy(e.labels, now); ok {
				st.State, st.SilencedBy = "suppressed", []string{id}
			}
			if fp, ok := inhibitedBy(d.opts.Inhibit, e, firing); ok {
				st.State, st.InhibitedBy = "suppressed", []string{strconv.FormatUint(fp, 16)}
			}
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b AlertStatus) int {
		ra, rb := a.State == "resolved", b.State == "resolved"
		if ra != rb {
			if ra {
				return 1
			}
			return -1
		}
		return cmp.Or(a.StartsAt.Compare(b.StartsAt), cmp.Compare(a.Fingerprint, b.Fingerprint))
	})
	return out
}

// ChannelStatus is how one channel's deliveries went.
type ChannelStatus struct {
	Name        string    `json:"name"`
	Forwarder   bool      `json:"forwarder,omitempty"`
	Sent        uint64    `json:"sent"`
	Failed      uint64    `json:"failed"`
	LastSuccess time.Time `json:"lastSuccess,omitzero"`
	LastError   string    `json:"lastError,omitempty"`
	LastErrorAt time.Time `json:"lastErrorAt,omitzero"`
}

// ChannelStatuses reports each channel's deliveries, in channel order.
func (d *Dispatcher) ChannelStatuses() []ChannelStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.status)
}

// Stats returns the counters so far.
func (d *Dispatcher) Stats() Stats {
	return Stats{
		Received:      d.received.Load(),
		Notifications: d.notifications.Load(),
		Deduped:       d.deduped.Load(),
		Muted:         d.muted.Load(),
		Sent:          d.sent.Load(),
		Failed:        d.failed.Load(),
		Retried:       d.retried.Load(),
		Dropped:       d.dropped.Load(),
		Forwarded:     d.forwarded.Load(),
	}
}

type dispatcherMetrics struct {
	sent, failed     *prometheus.CounterVec
	dropped, deduped prometheus.Counter
}

func newDispatcherMetrics(r prometheus.Registerer) (*dispatcherMetrics, error) {
	m := &dispatcherMetrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "perfengine_alert_sent_total", Help: "Alert notifications delivered, by channel.",
		}, []string{"notifier"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "perfengine_alert_failed_total", Help: "Alert notifications whose delivery failed after retries, by channel.",
		}, []string{"notifier"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "perfengine_alert_dropped_total", Help: "Alert notifications dropped by a full queue or a stopped dispatcher.",
		}),
		deduped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "perfengine_alert_deduplicated_total", Help: "Group flushes a channel did not need: nothing new within the repeat interval.",
		}),
	}
	// A dispatcher cannot be restarted, so an engine builds a new one on
	// each Start; the new one counts on in the collectors already there.
	var err error
	if m.sent, err = register(r, m.sent); err != nil {
		return nil, err
	}
	if m.failed, err = register(r, m.failed); err != nil {
		return nil, err
	}
	if m.dropped, err = register(r, m.dropped); err != nil {
		return nil, err
	}
	if m.deduped, err = register(r, m.deduped); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the equal collector registered before.
func register[C prometheus.Collector](r prometheus.Registerer, c C) (C, error) {
	err := r.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("alert: register metrics: %w", err)
}
