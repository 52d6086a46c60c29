package alert

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Notification is what one group sends at once: its firing alerts and
// the ones resolved since, as an Alertmanager receiver gets them.
type Notification struct {
	// Receiver is the channel's name.
	Receiver string
	// GroupKey identifies the group: its labels, {alertname="status"}.
	GroupKey    string
	GroupLabels map[string]string
	Firing      []Alert
	Resolved    []Alert
	// Starts holds when each alert began firing, and Ends when each
	// resolved one ended or a firing one will be presumed over, by ID.
	Starts, Ends map[string]time.Time
}

// NotificationOf groups alerts into one notification by their state, the
// form a single test alert or a library caller without a dispatcher uses.
func NotificationOf(alerts ...Alert) *Notification {
	n := &Notification{GroupLabels: map[string]string{}}
	for _, a := range alerts {
		if a.Resolved {
			n.Resolved = append(n.Resolved, a)
		} else {
			n.Firing = append(n.Firing, a)
		}
	}
	if len(alerts) > 0 {
		n.GroupLabels[LabelAlertname] = LabelSet(alerts[0])[LabelAlertname]
	}
	n.GroupKey = labelString(n.GroupLabels)
	return n
}

// Status is "firing" while any alert of the group fires, else "resolved".
func (n *Notification) Status() string {
	if len(n.Firing) > 0 {
		return "firing"
	}
	return "resolved"
}

// Alerts returns the firing alerts, then the resolved ones.
func (n *Notification) Alerts() []Alert {
	return append(slices.Clip(n.Firing), n.Resolved...)
}

// CommonLabels are the labels every alert of the notification shares.
func (n *Notification) CommonLabels() map[string]string {
	all := n.Alerts()
	if len(all) == 0 {
		return map[string]string{}
	}
	common := LabelSet(all[0])
	for _, a := range all[1:] {
		ls := LabelSet(a)
		for k, v := range common {
			if ls[k] != v {
				delete(common, k)
			}
		}
	}
	return common
}

// Summary is the one-line form used as the chat text's first line and the
// email subject: the alert's own summary when there is one alert, else
// "[FIRING:2, RESOLVED:1] slow_query (target=api)", the name left out
// when the alerts have different ones. It is one line
// whatever the titles hold.
func (n *Notification) Summary() string {
	all := n.Alerts()
	if len(all) == 1 {
		return Summary(all[0])
	}
	var b strings.Builder
	if len(n.Firing) > 0 {
		fmt.Fprintf(&b, "[FIRING:%d", len(n.Firing))
		if len(n.Resolved) > 0 {
			fmt.Fprintf(&b, ", RESOLVED:%d", len(n.Resolved))
		}
		b.WriteString("] ")
	} else {
		fmt.Fprintf(&b, "[RESOLVED:%d] ", len(n.Resolved))
	}
	// The name only when every alert shares it: a group by target holds
	// alerts of many names.
	name := n.CommonLabels()[LabelAlertname]
	b.WriteString(name)
	if rest := otherGroupLabels(n.GroupLabels); rest != "" {
		if name != "" {
			b.WriteString(" ")
		}
		b.WriteString("(" + rest + ")")
	}
	return oneLine(b.String())
}

func otherGroupLabels(ls map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(ls)) {
		if k != LabelAlertname && ls[k] != "" {
			parts = append(parts, k+"="+ls[k])
		}
	}
	return strings.Join(parts, " ")
}

// Text is the notification for people: the summary, then each alert.
func (n *Notification) Text() string {
	if all := n.Alerts(); len(all) == 1 {
		return Text(all[0])
	}
	var b strings.Builder
	b.WriteString(n.Summary())
	section := func(head string, alerts []Alert) {
		if len(alerts) == 0 {
			return
		}
		b.WriteString("\n\n" + head)
		for _, a := range alerts {
			b.WriteString("\n- ")
			b.WriteString(strings.ReplaceAll(Text(a), "\n", "\n  "))
		}
	}
	section("Firing:", n.Firing)
	section("Resolved:", n.Resolved)
	return b.String()
}

// labelString renders labels as {a="x", b="y"}, in name order: the group
// key, stable across restarts.
func labelString(ls map[string]string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(ls)) {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%q", k, ls[k])
	}
	b.WriteByte('}')
	return b.String()
}
