{{- define "mush-operator.name" -}}
{{- default .Release.Name .Values.serviceAccount.name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "mush-operator.labels" -}}
app.kubernetes.io/name: mush-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "mush-operator.selector" -}}
app.kubernetes.io/name: mush-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The operator's rules, for its ClusterRole or (namespace-scoped) its Role. */}}
{{- define "mush-operator.rules" -}}
- apiGroups: ["mush-on-kube.dev"]
  resources: ["mushshards"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["mush-on-kube.dev"]
  resources: ["mushshards/status"]
  verbs: ["patch"]
# Owner references with blockOwnerDeletion need update on the owner's finalizers.
- apiGroups: ["mush-on-kube.dev"]
  resources: ["mushshards/finalizers"]
  verbs: ["update"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "create", "patch"]
- apiGroups: [""]
  resources: ["services", "configmaps", "serviceaccounts"]
  verbs: ["get", "list", "watch", "create", "patch"]
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["get", "list", "watch", "create", "patch"]
- apiGroups: ["networking.k8s.io"]
  resources: ["networkpolicies"]
  verbs: ["get", "list", "watch", "create", "patch"]
# Scale-down marks the emptiest game pods with pod-deletion-cost.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list", "patch"]
# get: the Secrets a MushShard names (Redis endpoints and TLS) and the link certificates
# the operator keeps; create and patch: those link certificates (a CA and a certificate
# per role, owned by their shard). Never list or delete: nothing else is read, and owned
# Secrets go with their shard.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "create", "patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end -}}
