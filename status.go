package perfengine

// Status is the engine's verdict on the service.
type Status string

// Statuses, from best to worst.
const (
	StatusHealthy  Status = "healthy"
	StatusWarning  Status = "warning"
	StatusCritical Status = "critical"
)

func (s Status) rank() int {
	switch s {
	case StatusWarning:
		return 1
	case StatusCritical:
		return 2
	}
	return 0
}

func worse(a, b Status) Status {
	if b.rank() > a.rank() {
		return b
	}
	return a
}
