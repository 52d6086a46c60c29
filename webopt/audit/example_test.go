package audit_test

import (
	"context"
	"fmt"
	"log"

	"github.com/perfengine/perfengine/webopt/audit"
)

// Counting the DOM nodes a dialog leaves behind each time it is opened
// and closed. It needs Chromium, so it is compiled but not run here.
func ExampleDetachedDOM() {
	rep, err := audit.DetachedDOM(context.Background(), "http://127.0.0.1:8080/",
		`document.querySelector('#open').click(); document.querySelector('#close').click()`, 5, audit.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rep.Detached, rep.PerRound)
	for _, f := range rep.Findings {
		fmt.Println(f.Kind, f.Element, f.Advice)
	}
}
