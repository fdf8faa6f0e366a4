{{- define "aispm.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 50 | trimSuffix "-" }}{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "aispm.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "aispm.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "aispm.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The settings every service shares, as the CLI reads them. */}}
{{- define "aispm.env" -}}
- name: AISPM_MODE
  value: distributed
- name: KAFKA_BROKERS
  value: {{ .Values.kafka.brokers | quote }}
- name: AISPM_CLICKHOUSE_URL
  value: {{ .Values.clickhouse.url | quote }}
- name: AISPM_CLICKHOUSE_USER
  value: {{ .Values.clickhouse.user | quote }}
- name: AISPM_CLICKHOUSE_DATABASE
  value: {{ .Values.clickhouse.database | quote }}
- name: AISPM_CLICKHOUSE_PASSWORD_FILE
  value: /etc/aispm/secrets/clickhouse/password
- name: AISPM_PARTITIONS
  value: {{ .Values.topics.partitions | quote }}
- name: AISPM_METRICS_HOST
  value: 0.0.0.0
- name: AISPM_METRICS_PORT
  value: {{ .Values.metrics.port | quote }}
{{- if .Values.config.rules }}
- name: AISPM_RULES_FILE
  value: /etc/aispm/rules/behaviour.v1.json
{{- end }}
{{- if .Values.config.policy }}
- name: AISPM_POLICY_FILE
  value: /etc/aispm/policy/policy.json
{{- end }}
{{- range $key, $value := .Values.env }}
- name: {{ $key }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{- define "aispm.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: data
  mountPath: /data
- name: clickhouse-password
  mountPath: /etc/aispm/secrets/clickhouse
  readOnly: true
- name: config
  mountPath: /etc/aispm/policy
  readOnly: true
- name: rules
  mountPath: /etc/aispm/rules
  readOnly: true
{{- end -}}

{{- define "aispm.volumes" -}}
- name: tmp
  emptyDir: {}
- name: data
  emptyDir: {}
- name: clickhouse-password
  secret:
    secretName: {{ .Values.clickhouse.passwordSecret }}
- name: config
  configMap:
    name: {{ include "aispm.fullname" . }}-config
- name: rules
  configMap:
    name: {{ include "aispm.fullname" . }}-rules
{{- end -}}

{{- define "aispm.pod" -}}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets: {{ toYaml . | nindent 2 }}
{{- end }}
securityContext: {{ toYaml .root.Values.podSecurityContext | nindent 2 }}
automountServiceAccountToken: false
{{- with .root.Values.nodeSelector }}
nodeSelector: {{ toYaml . | nindent 2 }}
{{- end }}
{{- with .root.Values.tolerations }}
tolerations: {{ toYaml . | nindent 2 }}
{{- end }}
{{- with .root.Values.affinity }}
affinity: {{ toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
