package regress

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/perfengine/perfengine/metrics"
	"github.com/perfengine/perfengine/store"
)

// memStore keeps baselines and actions in memory; it stands in for the
// SQLite store, which lands in its own package, for the calls regress makes.
type memStore struct {
	mu        sync.Mutex
	baselines map[string]map[string]store.Baseline
	order     []string
	actions   []store.Action
}

var _ store.Store = (*memStore)(nil)

func newMemStore() *memStore { return &memStore{baselines: map[string]map[string]store.Baseline{}} }

func (m *memStore) WriteSamples(context.Context, []metrics.Sample) error { return nil }
func (m *memStore) QuerySamples(context.Context, store.SampleQuery) ([]metrics.Sample, error) {
	return nil, nil
}
func (m *memStore) Compact(context.Context, time.Time) error { return nil }
func (m *memStore) SaveAction(_ context.Context, a store.Action) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.actions = append(m.actions, a)
	return nil
}
func (m *memStore) GetAction(_ context.Context, id string) (store.Action, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range m.actions {
		if a.ID == id {
			return a, nil
		}
	}
	return store.Action{}, store.ErrNotFound
}
func (m *memStore) ListActions(context.Context, store.ActionFilter) ([]store.Action, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.actions), nil
}
func (m *memStore) SaveBaseline(_ context.Context, b store.Baseline) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.baselines[b.Version] == nil {
		m.baselines[b.Version] = map[string]store.Baseline{}
		m.order = append([]string{b.Version}, m.order...)
	}
	m.baselines[b.Version][b.Metric] = b
	return nil
}
func (m *memStore) Baselines(_ context.Context, version string) ([]store.Baseline, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	bs := m.baselines[version]
	if len(bs) == 0 {
		return nil, store.ErrNotFound
	}
	var out []store.Baseline
	for _, b := range bs {
		out = append(out, b)
	}
	return out, nil
}
func (m *memStore) Versions(context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.order), nil
}
func (m *memStore) SaveAlert(context.Context, store.Alert) error           { return nil }
func (m *memStore) ListAlerts(context.Context, int) ([]store.Alert, error) { return nil, nil }
func (m *memStore) Close() error                                           { return nil }
