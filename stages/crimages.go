package stages

// crImageFields lists, by API group and kind, the fields of custom resources whose value
// is an image an operator will run (containers inside them are found by the generic
// walk already). A path is dotted from the object root; a segment ending in "[]" walks
// every element of a list ("spec.initImages[].image"). Values are parsed as references
// as they are, like a container's image field.
var crImageFields = map[crKind][]string{
	// Prometheus operator.
	{"monitoring.coreos.com", "Prometheus"}:      {"spec.image", "spec.thanos.image"},
	{"monitoring.coreos.com", "PrometheusAgent"}: {"spec.image"},
	{"monitoring.coreos.com", "Alertmanager"}:    {"spec.image"},
	{"monitoring.coreos.com", "ThanosRuler"}:     {"spec.image"},
	// Grafana operator (v4 API; v5 uses a pod template, found generically).
	{"integreatly.org", "Grafana"}: {"spec.baseImage", "spec.initImage"},
	// Elastic Cloud on Kubernetes.
	{"elasticsearch.k8s.elastic.co", "Elasticsearch"}:       {"spec.image"},
	{"kibana.k8s.elastic.co", "Kibana"}:                     {"spec.image"},
	{"apm.k8s.elastic.co", "ApmServer"}:                     {"spec.image"},
	{"beat.k8s.elastic.co", "Beat"}:                         {"spec.image"},
	{"agent.k8s.elastic.co", "Agent"}:                       {"spec.image"},
	{"enterprisesearch.k8s.elastic.co", "EnterpriseSearch"}: {"spec.image"},
	{"logstash.k8s.elastic.co", "Logstash"}:                 {"spec.image"},
	{"maps.k8s.elastic.co", "ElasticMapsServer"}:            {"spec.image"},
	// Strimzi.
	{"kafka.strimzi.io", "Kafka"}: {"spec.kafka.image", "spec.zookeeper.image",
		"spec.entityOperator.topicOperator.image", "spec.entityOperator.userOperator.image",
		"spec.entityOperator.tlsSidecar.image", "spec.kafkaExporter.image", "spec.cruiseControl.image"},
	{"kafka.strimzi.io", "KafkaConnect"}:      {"spec.image"},
	{"kafka.strimzi.io", "KafkaMirrorMaker2"}: {"spec.image"},
	{"kafka.strimzi.io", "KafkaBridge"}:       {"spec.image"},
	{"kafka.strimzi.io", "KafkaNodePool"}:     {"spec.image"},
	// CloudNativePG.
	{"postgresql.cnpg.io", "Cluster"}: {"spec.imageName"},
	{"postgresql.cnpg.io", "Pooler"}:  {"spec.pgbouncer.image"},
	// OpenTelemetry operator.
	{"opentelemetry.io", "OpenTelemetryCollector"}: {"spec.image", "spec.targetAllocator.image"},
	{"opentelemetry.io", "OpAMPBridge"}:            {"spec.image"},
	{"opentelemetry.io", "Instrumentation"}: {"spec.java.image", "spec.nodejs.image",
		"spec.python.image", "spec.dotnet.image", "spec.go.image", "spec.apacheHttpd.image",
		"spec.nginx.image"},
	// Jaeger operator.
	{"jaegertracing.io", "Jaeger"}: {"spec.allInOne.image", "spec.collector.image",
		"spec.query.image", "spec.agent.image", "spec.ingester.image"},
	// Zalando postgres-operator.
	{"acid.zalan.do", "postgresql"}: {"spec.dockerImage"},
	// MinIO operator.
	{"minio.min.io", "Tenant"}: {"spec.image", "spec.sideCars.image"},
	// Percona / MongoDB Community operators.
	{"mongodbcommunity.mongodb.com", "MongoDBCommunity"}: {"spec.image"},
	{"pxc.percona.com", "PerconaXtraDBCluster"}:          {"spec.pxc.image", "spec.haproxy.image", "spec.proxysql.image", "spec.backup.image"},
	// Flink operator.
	{"flink.apache.org", "FlinkDeployment"}: {"spec.image"},
	// Spark operator.
	{"sparkoperator.k8s.io", "SparkApplication"}: {"spec.image", "spec.driver.image", "spec.executor.image"},
	// Dragonfly / Redis operators.
	{"dragonflydb.io", "Dragonfly"}:              {"spec.image"},
	{"redis.redis.opstreelabs.in", "Redis"}:      {"spec.kubernetesConfig.image"},
	{"databases.spotahome.com", "RedisFailover"}: {"spec.redis.image", "spec.sentinel.image"},
	// Tekton.
	{"tekton.dev", "Task"}:        {"spec.steps[].image", "spec.sidecars[].image", "spec.stepTemplate.image"},
	{"tekton.dev", "ClusterTask"}: {"spec.steps[].image", "spec.sidecars[].image", "spec.stepTemplate.image"},
	// Argo Workflows (a template holds one container or script, not a list).
	{"argoproj.io", "WorkflowTemplate"}:        argoTemplateImages("spec"),
	{"argoproj.io", "ClusterWorkflowTemplate"}: argoTemplateImages("spec"),
	{"argoproj.io", "Workflow"}:                argoTemplateImages("spec"),
	{"argoproj.io", "CronWorkflow"}:            argoTemplateImages("spec.workflowSpec"),
}

// crKind is an API group (no version) and kind.
type crKind struct {
	Group string
	Kind  string
}

func argoTemplateImages(spec string) []string {
	return []string{spec + ".templates[].container.image", spec + ".templates[].script.image"}
}
