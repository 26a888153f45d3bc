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
