{{/* Name prefix of every object of this release (one release = one party). */}}
{{- define "silobridge.fullname" -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "silobridge.labels" -}}
app.kubernetes.io/name: silobridge
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
silobridge.io/party: {{ .Values.party.id | quote }}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "router") */}}
{{- define "silobridge.selectorLabels" -}}
app.kubernetes.io/name: silobridge
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "silobridge.image" -}}
{{ printf "%s:%s" .Values.image.repository .Values.image.tag | quote }}
{{- end -}}

{{- define "silobridge.secretName" -}}
{{- if .Values.secrets.existingSecret -}}
{{ .Values.secrets.existingSecret }}
{{- else -}}
{{ include "silobridge.fullname" . }}-urls
{{- end -}}
{{- end -}}

{{- define "silobridge.podAnnotations" -}}
checksum/config: {{ include (print .root.Template.BasePath "/configmap.yaml") .root | sha256sum }}
{{- if .root.Values.observability.metrics }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- end -}}

{{/* Variables of silobridge.config.CommonSettings: (dict "root" $ "port" 9371 "extra" .Values.extraEnv.router) */}}
{{- define "silobridge.commonEnv" -}}
- name: SILOBRIDGE_PARTY_ID
  value: {{ .root.Values.party.id | quote }}
- name: SILOBRIDGE_BUS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "silobridge.secretName" .root }}
      key: bus-url
- name: SILOBRIDGE_BUS_PREFIX
  value: {{ .root.Values.bus.prefix | quote }}
- name: SILOBRIDGE_HTTP_HOST
  value: "0.0.0.0"
- name: SILOBRIDGE_HTTP_PORT
  value: {{ .port | quote }}
- name: SILOBRIDGE_DATA_DIR
  value: /data
- name: SILOBRIDGE_LOG_LEVEL
  value: {{ .root.Values.observability.logLevel | quote }}
- name: SILOBRIDGE_LOG_JSON
  value: {{ .root.Values.observability.logJson | quote }}
{{- range $name, $value := .root.Values.extraEnv.all }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- range $name, $value := .extra }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{- define "silobridge.probes" -}}
readinessProbe:
  httpGet: {path: /readyz, port: http}
  periodSeconds: 5
livenessProbe:
  httpGet: {path: /healthz, port: http}
  initialDelaySeconds: 10
  periodSeconds: 10
  failureThreshold: 6
{{- end -}}

{{- define "silobridge.podSecurity" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: 10001
  fsGroup: 10001
{{- end -}}

{{- define "silobridge.containerSecurity" -}}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities: {drop: [ALL]}
{{- end -}}

{{- define "silobridge.volumeClaim" -}}
- metadata:
    name: data
  spec:
    accessModes: [ReadWriteOnce]
    {{- if .root.Values.storageClass }}
    storageClassName: {{ .root.Values.storageClass | quote }}
    {{- end }}
    resources:
      requests:
        storage: {{ .size }}
{{- end -}}
