package stages

import (
	"sort"

	"helm.sh/helm/v3/pkg/chartutil"
)

// extraAPIs are the custom-resource API versions (with their kinds) offered to templates
// on top of Helm's built-in Kubernetes set, so that templates gated on
// `.Capabilities.APIVersions.Has "monitoring.coreos.com/v1"` (or ".../ServiceMonitor")
// render as they would on a cluster running the common operators. Cluster-specific
// flavours (OpenShift's security.openshift.io, PodSecurityPolicy) are left out on purpose.
var extraAPIs = map[string][]string{
	"monitoring.coreos.com/v1": {"Alertmanager", "PodMonitor", "Probe", "Prometheus",
		"PrometheusRule", "ServiceMonitor", "ThanosRuler"},
	"monitoring.coreos.com/v1alpha1":    {"AlertmanagerConfig", "PrometheusAgent", "ScrapeConfig"},
	"monitoring.coreos.com/v1beta1":     {"AlertmanagerConfig"},
	"policy/v1":                         {"PodDisruptionBudget"},
	"autoscaling/v2":                    {"HorizontalPodAutoscaler"},
	"autoscaling.k8s.io/v1":             {"VerticalPodAutoscaler", "VerticalPodAutoscalerCheckpoint"},
	"networking.k8s.io/v1":              {"Ingress", "IngressClass", "NetworkPolicy"},
	"cert-manager.io/v1":                {"Certificate", "CertificateRequest", "ClusterIssuer", "Issuer"},
	"gateway.networking.k8s.io/v1":      {"Gateway", "GatewayClass", "GRPCRoute", "HTTPRoute"},
	"gateway.networking.k8s.io/v1beta1": {"Gateway", "GatewayClass", "HTTPRoute", "ReferenceGrant"},
	"gateway.networking.k8s.io/v1alpha2": {"BackendTLSPolicy", "GRPCRoute", "TCPRoute", "TLSRoute",
		"UDPRoute"},
	"argoproj.io/v1alpha1": {"AnalysisRun", "AnalysisTemplate", "AppProject", "Application",
		"ApplicationSet", "ClusterAnalysisTemplate", "Experiment", "Rollout"},
	"keda.sh/v1alpha1": {"ClusterTriggerAuthentication", "ScaledJob", "ScaledObject",
		"TriggerAuthentication"},
	"external-secrets.io/v1": {"ClusterExternalSecret", "ClusterSecretStore", "ExternalSecret",
		"SecretStore"},
	"external-secrets.io/v1beta1": {"ClusterExternalSecret", "ClusterSecretStore", "ExternalSecret",
		"SecretStore"},
	"traefik.io/v1alpha1": {"IngressRoute", "IngressRouteTCP", "IngressRouteUDP", "Middleware",
		"MiddlewareTCP", "ServersTransport", "TLSOption", "TLSStore", "TraefikService"},
	"karpenter.sh/v1":             {"NodeClaim", "NodePool"},
	"karpenter.k8s.aws/v1":        {"EC2NodeClass"},
	"elbv2.k8s.aws/v1beta1":       {"IngressClassParams", "TargetGroupBinding"},
	"networking.istio.io/v1":      {"DestinationRule", "Gateway", "ServiceEntry", "VirtualService"},
	"networking.istio.io/v1beta1": {"DestinationRule", "Gateway", "ServiceEntry", "VirtualService"},
	"security.istio.io/v1":        {"AuthorizationPolicy", "PeerAuthentication", "RequestAuthentication"},
	"cilium.io/v2":                {"CiliumClusterwideNetworkPolicy", "CiliumNetworkPolicy"},
	"grafana.integreatly.org/v1beta1": {"Grafana", "GrafanaDashboard", "GrafanaDatasource",
		"GrafanaFolder"},
	"opentelemetry.io/v1beta1":  {"OpenTelemetryCollector"},
	"opentelemetry.io/v1alpha1": {"Instrumentation", "OpAMPBridge"},
}

// renderAPIVersions is the version set passed to the client-only install: every group
// version of extraAPIs both bare ("policy/v1") and with each kind ("policy/v1/PodDisruptionBudget").
// Helm adds its own built-in Kubernetes set to it.
func renderAPIVersions() chartutil.VersionSet {
	var out []string
	for gv, kinds := range extraAPIs {
		out = append(out, gv)
		for _, k := range kinds {
			out = append(out, gv+"/"+k)
		}
	}
	sort.Strings(out)
	return out
}

// RenderAPIVersions is the API version set every render offers on top of Helm's built-in
// Kubernetes set, for a caller that renders the same way with another tool (`helm
// template --api-versions`).
func RenderAPIVersions() []string { return renderAPIVersions() }
