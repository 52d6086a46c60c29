package querytrace

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Tracer is a pgx.QueryTracer that records each statement's latency into a
// Recorder. Install it on a pool's config:
//
//	cfg.ConnConfig.Tracer = querytrace.NewTracer(rec)
//
// Its zero value is not usable; it is safe for concurrent use.
type Tracer struct {
	rec *Recorder
	now func() time.Time
}

var _ pgx.QueryTracer = (*Tracer)(nil)

// NewTracer returns a tracer recording into rec.
func NewTracer(rec *Recorder) *Tracer { return &Tracer{rec: rec, now: time.Now} }

type startKey struct{}

type start struct {
	t    time.Time
	sql  string
	args []any
}

// TraceQueryStart implements pgx.QueryTracer.
func (t *Tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	noteRequest(ctx, data.SQL, data.Args)
	return context.WithValue(ctx, startKey{}, start{t: t.now(), sql: data.SQL, args: data.Args})
}

// TraceQueryEnd implements pgx.QueryTracer.
func (t *Tracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	s, ok := ctx.Value(startKey{}).(start)
	if !ok {
		return
	}
	t.rec.Record(s.sql, t.now().Sub(s.t), data.Err, s.args)
}
