//go:build !unix

package pgtest

import "fmt"

type options struct{}

func defaultOptions() options { return options{} }

type cluster struct{}

func (*cluster) dsn(string) string { return "" }
func (*cluster) stop() error       { return nil }

func startCluster(options) (*cluster, error) {
	return nil, fmt.Errorf("%w: pgtest starts PostgreSQL only on Unix systems", errUnavailable)
}
