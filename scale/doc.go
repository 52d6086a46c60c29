// Package scale decides how many instances a service should run and has
// them started or stopped, with the Kubernetes Horizontal Pod Autoscaler's
// algorithm, exactly: each metric proposes ceil(current × value / target)
// instances, nothing changes within a 10 % tolerance of the target,
// instances that reported no value count as idle on a scale-up and as at
// the target on a scale-down, the largest proposal wins, and no scale-down
// happens while a metric cannot be read. Stabilization windows (the
// lowest recommendation of the scale-up window, the highest of the
// scale-down window) and rate policies (instances or percent per period,
// the largest or smallest change selected) keep the count from flapping,
// and the bounds clamp it. Every Decision says which metric, tolerance,
// window, policy or bound decided it, and until when a held change waits.
//
// Actuators carry the decision out: a command run with the desired count
// (an argument list, not a shell line), a webhook POST, or the scale
// subresource of a Kubernetes Deployment or StatefulSet, spoken in plain
// HTTP with the pod's service account or a kubeconfig's credentials.
package scale
