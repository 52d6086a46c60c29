package audit

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/heapprofiler"
	"github.com/chromedp/chromedp"
)

// DefaultRepeats is how many times DetachedDOM runs the interaction.
const DefaultRepeats = 5

// DOMLeaks is what DetachedDOM saw: the detached DOM nodes still retained
// after each round of the interaction and a collection.
type DOMLeaks struct {
	URL         string `json:"url"`
	Interaction string `json:"interaction"`
	// Detached[i] counts the nodes detached from the document but kept
	// alive by script after round i (Detached[0] before any).
	Detached []int `json:"detached"`
	// PerRound is the growth per round, (last - first round) / rounds.
	PerRound float64 `json:"per_round"`
	// Roots names the retained detached trees of the last round, at most
	// ten kinds, as tag#id.class with how many (div.dialog ×5).
	Roots    []string  `json:"roots,omitempty"`
	Findings []Finding `json:"findings,omitempty"`
}

// DetachedDOM loads pageURL, then runs interaction (JavaScript, for
// example a click that opens and closes a dialog) repeats times. After
// each round it forces a garbage collection and asks the browser, through
// the DevTools protocol (DOM.getDetachedDomNodes), for the DOM nodes that
// were removed from the document but that script still references: the
// browser's form of a leak. Nodes that grow with every round are a
// detached_dom finding naming the retained trees. No throttling applies.
func DetachedDOM(ctx context.Context, pageURL, interaction string, repeats int, opts Options) (*DOMLeaks, error) {
	if strings.TrimSpace(interaction) == "" {
		return nil, fmt.Errorf("audit: no interaction to repeat")
	}
	if repeats <= 0 {
		repeats = DefaultRepeats
	}
	if repeats > 100 {
		return nil, fmt.Errorf("audit: repeats %d: must be in 1..100", repeats)
	}
	opts, bin, err := prepare(pageURL, opts)
	if err != nil {
		return nil, err
	}
	bctx, stop, err := startBrowser(ctx, bin, opts)
	if err != nil {
		return nil, err
	}
	defer stop()
	rctx, cancel := context.WithTimeout(bctx, opts.Timeout)
	defer cancel()
	if err := chromedp.Do(rctx, chromedp.Navigate(pageURL), chromedp.Sleep(opts.Settle)); err != nil {
		return nil, fmt.Errorf("load %s: %w", pageURL, err)
	}
	rep := &DOMLeaks{URL: pageURL, Interaction: interaction}
	var last []*dom.DetachedElementInfo
	count := func() error {
		return chromedp.Do(rctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			if _, err := cdp.Call(ctx, t, heapprofiler.CollectGarbage, cdp.Empty{}); err != nil {
				return fmt.Errorf("collect garbage: %w", err)
			}
			// The document must be requested once for node ids to resolve.
			if _, err := cdp.Call(ctx, t, dom.GetDocument, dom.GetDocumentParams{}); err != nil {
				return fmt.Errorf("get document: %w", err)
			}
			res, err := cdp.Call(ctx, t, dom.GetDetachedDomNodes, cdp.Empty{})
			if err != nil {
				return fmt.Errorf("detached nodes: %w", err)
			}
			n := 0
			for _, d := range res.DetachedNodes {
				n += max(treeSize(d.TreeNode), len(d.RetainedNodeIDs))
			}
			rep.Detached, last = append(rep.Detached, n), res.DetachedNodes
			return nil
		}))
	}
	if err := count(); err != nil {
		return nil, err
	}
	for i := range repeats {
		// Wrapped so the interaction's own value (an element, say) need not
		// be serializable, and a promise it returns is awaited.
		expr := "(async () => { " + interaction + "\n})().then(() => true)"
		if _, err := chromedp.Run(rctx, chromedp.Evaluate[bool](expr, chromedp.EvalAwaitPromise)); err != nil {
			return nil, fmt.Errorf("interaction, round %d: %w", i+1, err)
		}
		if err := count(); err != nil {
			return nil, err
		}
	}
	rep.Roots = roots(last, 10)
	// The first round may build what later rounds reuse (a dialog kept for
	// the next time): growth is measured from it.
	first, end := rep.Detached[1], rep.Detached[len(rep.Detached)-1]
	if repeats > 1 {
		rep.PerRound = float64(end-first) / float64(repeats-1)
	}
	if repeats > 1 && end > first && grows(rep.Detached[1:]) {
		rep.Findings = append(rep.Findings, Finding{
			Kind:    "detached_dom",
			Element: strings.Join(rep.Roots, ", "),
			Advice:  fmt.Sprintf("%.0f DOM nodes per interaction stay alive after removal from the document (%d after %d rounds): drop the script references to removed elements (arrays, maps, closures of event listeners) or remove the listeners", rep.PerRound, end, repeats),
		})
	}
	return rep, nil
}

// grows reports whether counts never fall and end above where they began:
// a leak keeps every round's nodes.
func grows(counts []int) bool {
	for i := 1; i < len(counts); i++ {
		if counts[i] < counts[i-1] {
			return false
		}
	}
	return counts[len(counts)-1] > counts[0]
}

// treeSize counts n and the nodes under it, those the browser sent and
// those it only counted.
func treeSize(n *cdp.Node) int {
	if n == nil {
		return 0
	}
	size := 1
	if len(n.Children) == 0 {
		return size + int(n.ChildNodeCount)
	}
	for _, c := range n.Children {
		size += treeSize(c)
	}
	return size
}

// roots names the detached trees, the most frequent first, at most limit
// names.
func roots(nodes []*dom.DetachedElementInfo, limit int) []string {
	count := map[string]int{}
	var order []string
	for _, d := range nodes {
		name := describe(d.TreeNode)
		if count[name] == 0 {
			order = append(order, name)
		}
		count[name]++
	}
	slices.SortStableFunc(order, func(a, b string) int { return count[b] - count[a] })
	out := make([]string, 0, min(limit, len(order)))
	for _, name := range order[:min(limit, len(order))] {
		if n := count[name]; n > 1 {
			name += fmt.Sprintf(" ×%d", n)
		}
		out = append(out, name)
	}
	return out
}

// describe names a node as tag#id.class.
func describe(n *cdp.Node) string {
	if n == nil {
		return "?"
	}
	s := strings.ToLower(n.LocalName)
	if s == "" {
		s = strings.ToLower(n.NodeName)
	}
	for i := 0; i+1 < len(n.Attributes); i += 2 {
		switch n.Attributes[i] {
		case "id":
			s += "#" + n.Attributes[i+1]
		case "class":
			for c := range strings.FieldsSeq(n.Attributes[i+1]) {
				s += "." + c
			}
		}
	}
	return s
}
