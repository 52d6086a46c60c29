// Package perfengine keeps a Go web service and its database fast, by itself.
//
// An Engine runs a loop every monitoring interval: it collects figures from
// its modules (the Go runtime, and the optimizers: database, API, memory,
// network, browser, regressions), evaluates them against warning and
// critical thresholds into a status (healthy, warning or critical, with
// hysteresis so a value hovering at a threshold does not flap), asks the
// modules for recommendations, applies what its policy allows, and records
// every proposal, application and undo in its store.
//
// The policy grades each Action by risk. With AutoOptimize the engine applies
// safe actions; AggressiveMode adds moderate ones; risky ones (schema
// changes, rollbacks) wait for a person's Approve unless the module's own
// configuration allows them. Every applied action can be undone with Undo
// when its module knows how.
//
// A module that fails, hangs or panics is reported in the Summary and retried
// with backoff; it never stops the engine, and the engine never takes the
// service down.
//
// # Use
//
//	cfg, err := perfengine.LoadConfig("perfengine.yaml") // YAML, then the environment
//	if err != nil {
//		log.Fatal(err) // every invalid field, named
//	}
//	eng, err := perfengine.New(cfg, perfengine.WithRegisterer(prometheus.NewRegistry()))
//	if err != nil {
//		log.Fatal(err)
//	}
//	if err := eng.Start(ctx); err != nil {
//		log.Fatal(err)
//	}
//	defer eng.Stop(context.Background())
//	fmt.Println(eng.Summary().Status)
//
// # Modules of your own
//
// A Module is four methods: Name, Collect, Recommend, Apply. Pass one to
// New with WithModules, or add it to a running engine with Register. To
// give it configuration, declare it with RegisterModule from an init
// function: it then has a toggle (modules.<name>) and a typed section
// (custom.<name>) that the strict loader checks, the environment sets and
// UpdateConfig applies, like the built-in ones.
//
// Each optimizer is also a library of its own: see the packages dbopt,
// apiopt, memopt, netopt, regress and loadtest.
package perfengine
