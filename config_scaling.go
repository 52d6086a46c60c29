package perfengine

import (
	"fmt"
	"net/http"
	"time"

	"github.com/perfengine/perfengine/scale"
)

// AutoScalingConfig is the seed's autoScaling section: the bounds, the
// per-instance targets the HPA algorithm scales on, and the cooldowns,
// which map onto its behavior (see Behavior).
type AutoScalingConfig struct {
	// Enabled performs the decisions through the actuator. Off, the
	// autoscaler runs as a dry run: each decision is recorded and shown,
	// and the count it would have set is followed, nothing is changed.
	Enabled bool `yaml:"enabled" json:"enabled"`
	// MinInstances and MaxInstances bound the count; nothing scales past
	// them. Default 2 and 10.
	MinInstances int `yaml:"minInstances" json:"minInstances"`
	MaxInstances int `yaml:"maxInstances" json:"maxInstances"`
	// CPUThreshold is the target CPU per instance, in percent of the
	// cores it may use; default 80.
	CPUThreshold float64 `yaml:"cpuThreshold" json:"cpuThreshold"`
	// MemoryThreshold is the target memory per instance, a fraction of its
	// limit; default 0.8.
	MemoryThreshold float64 `yaml:"memoryThreshold" json:"memoryThreshold"`
	// ResponseTimeThreshold is the target p95 response time in ms; 1000.
	ResponseTimeThreshold float64 `yaml:"responseTimeThreshold" json:"responseTimeThreshold"`
	// ScaleUpCooldown is the period of the scale-up policies: at most
	// double, or 4 more instances, per cooldown; default 5m.
	ScaleUpCooldown Duration `yaml:"scaleUpCooldown" json:"scaleUpCooldown"`
	// ScaleDownCooldown is the scale-down stabilization window: the count
	// goes down only to the highest recommendation of this window; 10m.
	ScaleDownCooldown Duration `yaml:"scaleDownCooldown" json:"scaleDownCooldown"`
	// Tolerance around each target inside which nothing changes; 0.1.
	Tolerance float64 `yaml:"tolerance" json:"tolerance"`
	// Instances is the count at start when the actuator cannot read it;
	// default minInstances.
	Instances int `yaml:"instances" json:"instances"`
	// Target names what is scaled, in records and alerts; default
	// "service".
	Target   string              `yaml:"target" json:"target"`
	Actuator ScaleActuatorConfig `yaml:"actuator" json:"actuator"`
}

// ScaleActuatorConfig says how a decision is carried out.
type ScaleActuatorConfig struct {
	// Type is command, webhook or kubernetes; empty has no actuator, so
	// only a dry run is possible.
	Type string `yaml:"type" json:"type"`
	// Command is the program and its arguments; an argument
	// "{instances}" is replaced by the count, else it is appended.
	Command []string `yaml:"command" json:"command,omitempty"`
	// URL receives a POST of each change, for the webhook type.
	URL string `yaml:"url" json:"-" perfengine:"secret"`
	// Timeout bounds one change; default 1m.
	Timeout    Duration               `yaml:"timeout" json:"timeout"`
	Kubernetes scale.KubernetesConfig `yaml:"kubernetes" json:"kubernetes"`
}

// Scale actuator types.
const (
	ActuatorCommand    = "command"
	ActuatorWebhook    = "webhook"
	ActuatorKubernetes = "kubernetes"
)

func defaultAutoScalingConfig() AutoScalingConfig {
	return AutoScalingConfig{
		MinInstances: 2, MaxInstances: 10,
		CPUThreshold: 80, MemoryThreshold: 0.8, ResponseTimeThreshold: 1000,
		ScaleUpCooldown: Duration(5 * time.Minute), ScaleDownCooldown: Duration(10 * time.Minute),
		Tolerance: scale.DefaultTolerance, Target: "service",
	}
}

// Behavior maps the seed's cooldowns onto the HPA's behavior: scale up at
// once by the larger of 100 % and 4 instances per ScaleUpCooldown; scale
// down after a stabilization window of ScaleDownCooldown, by up to 100 %
// per 15 s (the HPA's default rate).
func (c AutoScalingConfig) Behavior() scale.Behavior {
	b := scale.DefaultBehavior()
	if p := c.ScaleUpCooldown.D(); p > 0 {
		for i := range b.ScaleUp.Policies {
			b.ScaleUp.Policies[i].Period = p
		}
	}
	b.ScaleDown.StabilizationWindow = c.ScaleDownCooldown.D()
	b.ScaleUp.Tolerance, b.ScaleDown.Tolerance = c.Tolerance, c.Tolerance
	return b
}

// actuator builds the configured actuator; nil when none is configured.
func (c ScaleActuatorConfig) actuator(client *http.Client) (scale.Actuator, error) {
	switch c.Type {
	case "":
		return nil, nil
	case ActuatorCommand:
		return &scale.Command{Argv: c.Command, Timeout: c.Timeout.D()}, nil
	case ActuatorWebhook:
		return &scale.Webhook{URL: c.URL, Client: client, Timeout: c.Timeout.D()}, nil
	case ActuatorKubernetes:
		k, err := scale.NewKubernetes(c.Kubernetes)
		if err != nil {
			return nil, err
		}
		k.Timeout = c.Timeout.D()
		return k, nil
	}
	return nil, fmt.Errorf("actuator type %q: want command, webhook or kubernetes", c.Type)
}

func (c AutoScalingConfig) validate(p *problems) {
	const s = "autoScaling."
	if c.MinInstances < 1 {
		p.add(s+"minInstances", c.MinInstances, "must be at least 1")
	}
	if c.MaxInstances < c.MinInstances {
		p.add(s+"maxInstances", c.MaxInstances, "must be at least minInstances (%d)", c.MinInstances)
	}
	if c.CPUThreshold <= 0 || c.CPUThreshold > 100 {
		p.add(s+"cpuThreshold", c.CPUThreshold, "must be a percent in (0, 100]")
	}
	if c.MemoryThreshold <= 0 || c.MemoryThreshold > 1 {
		p.add(s+"memoryThreshold", c.MemoryThreshold, "must be a fraction in (0, 1]")
	}
	if c.ResponseTimeThreshold <= 0 {
		p.add(s+"responseTimeThreshold", c.ResponseTimeThreshold, "must be positive (milliseconds)")
	}
	if c.ScaleUpCooldown < 0 || c.ScaleUpCooldown.D() > 30*time.Minute {
		p.add(s+"scaleUpCooldown", c.ScaleUpCooldown, "must be 0 to 30m")
	}
	if c.ScaleDownCooldown < 0 || c.ScaleDownCooldown.D() > time.Hour {
		p.add(s+"scaleDownCooldown", c.ScaleDownCooldown, "must be 0 to 1h (the HPA's longest stabilization window)")
	}
	if c.Tolerance < 0 || c.Tolerance >= 1 {
		p.add(s+"tolerance", c.Tolerance, "must be in [0, 1)")
	}
	if c.Instances < 0 || (c.Instances > 0 && c.MaxInstances >= c.MinInstances && (c.Instances < c.MinInstances || c.Instances > c.MaxInstances)) {
		p.add(s+"instances", c.Instances, "must be within minInstances and maxInstances")
	}
	a := c.Actuator
	switch a.Type {
	case "":
		if c.Enabled {
			p.add(s+"actuator.type", a.Type, "must name an actuator (command, webhook or kubernetes) when autoScaling.enabled is on")
		}
	case ActuatorCommand:
		if len(a.Command) == 0 || a.Command[0] == "" {
			p.add(s+"actuator.command", a.Command, "must list the program and its arguments")
		}
	case ActuatorWebhook:
		checkURL(p, s+"actuator.url", a.URL, "http", "https")
		if a.URL == "" {
			p.add(s+"actuator.url", a.URL, "is required for the webhook actuator")
		}
	case ActuatorKubernetes:
		if a.Kubernetes.Name == "" {
			p.add(s+"actuator.kubernetes.name", a.Kubernetes.Name, "must name the Deployment or StatefulSet")
		}
		switch a.Kubernetes.Kind {
		case "", "deployment", "statefulset", "Deployment", "StatefulSet":
		default:
			p.add(s+"actuator.kubernetes.kind", a.Kubernetes.Kind, "must be deployment or statefulset")
		}
	default:
		p.add(s+"actuator.type", a.Type, "must be command, webhook or kubernetes")
	}
	if a.Timeout < 0 {
		p.add(s+"actuator.timeout", a.Timeout, "must not be negative")
	}
}
