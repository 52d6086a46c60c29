package alert

import (
	"maps"
	"strconv"
	"time"
)

// webhookPayload is Alertmanager's webhook message, version 4, which
// receivers written for Alertmanager already read, plus Slack's "text".
type webhookPayload struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []payloadAlert    `json:"alerts"`
	Text              string            `json:"text"`
}

type payloadAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// annotations are the alert's free text, as Alertmanager's conventional
// summary and description.
func annotations(a Alert) map[string]string {
	an := map[string]string{"summary": a.Title}
	if a.Detail != "" {
		an["description"] = a.Detail
	}
	return an
}

// maxPayloadAlerts bounds one message; the rest is counted in
// truncatedAlerts, as Alertmanager's max_alerts does.
const maxPayloadAlerts = 100

func webhookMessage(n *Notification) webhookPayload {
	p := webhookPayload{
		Version: "4", GroupKey: n.GroupKey, Status: n.Status(), Receiver: n.Receiver,
		GroupLabels: n.GroupLabels, CommonLabels: n.CommonLabels(), CommonAnnotations: map[string]string{},
		Text: n.Text(),
	}
	if p.GroupLabels == nil {
		p.GroupLabels = map[string]string{}
	}
	all := n.Alerts()
	if len(all) > maxPayloadAlerts {
		p.TruncatedAlerts = len(all) - maxPayloadAlerts
		all = all[:maxPayloadAlerts]
	}
	for i, a := range all {
		ls := LabelSet(a)
		status := "firing"
		var ends time.Time
		if a.Resolved {
			status = "resolved"
			ends = n.Ends[a.ID]
		}
		an := annotations(a)
		if i == 0 {
			p.CommonAnnotations = maps.Clone(an)
		} else {
			for k, v := range p.CommonAnnotations {
				if an[k] != v {
					delete(p.CommonAnnotations, k)
				}
			}
		}
		start := n.Starts[a.ID]
		if start.IsZero() {
			start = a.Time
		}
		p.Alerts = append(p.Alerts, payloadAlert{
			Status: status, Labels: ls, Annotations: an, StartsAt: start, EndsAt: ends,
			Fingerprint: strconv.FormatUint(Fingerprint(ls), 16),
		})
	}
	return p
}

// Slack's limits: a header's text, a section's text, blocks per message.
const (
	slackHeaderMax  = 150
	slackSectionMax = 3000
	slackBlocksMax  = 50
)

type slackPayload struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

type slackBlock struct {
	Type string     `json:"type"`
	Text *slackText `json:"text,omitempty"`
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

func slackMessage(n *Notification) slackPayload {
	summary := n.Summary()
	p := slackPayload{Text: summary}
	p.Blocks = append(p.Blocks, slackBlock{Type: "header", Text: &slackText{Type: "plain_text", Text: truncateRunes(summary, slackHeaderMax)}})
	for _, a := range n.Alerts() {
		if len(p.Blocks) == slackBlocksMax-1 {
			p.Blocks = append(p.Blocks, slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn",
				Text: strconv.Itoa(len(n.Alerts())-(slackBlocksMax-2)) + " more alerts not shown"}})
			break
		}
		p.Blocks = append(p.Blocks, slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn",
			Text: truncateRunes(slackEscape(Text(a)), slackSectionMax)}})
	}
	return p
}

// slackEscape escapes the three characters Slack's mrkdwn reserves.
func slackEscape(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		switch r {
		case '&':
			out = append(out, []rune("&amp;")...)
		case '<':
			out = append(out, []rune("&lt;")...)
		case '>':
			out = append(out, []rune("&gt;")...)
		default:
			out = append(out, r)
		}
	}
	return string(out)
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
