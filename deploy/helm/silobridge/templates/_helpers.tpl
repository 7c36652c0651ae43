{{/* Name prefix of every object of this release (one release = one party). */}}
{{- define "silobridge.fullname" -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{/*
The exact text a service parses from one value. Helm reads numbers in values files as float64, and
`quote` prints 1048576 as "1.048576e+06" (the router refuses that): whole numbers are printed as
integers. Integers beyond 2^53 cannot survive a values file; write them as strings.
*/}}
{{- define "silobridge.str" -}}
{{- if kindIs "float64" . -}}
{{- if and (eq . (floor .)) (lt . 9007199254740992.0) (gt . -9007199254740992.0) -}}{{ printf "%d" (int64 .) }}{{- else -}}{{ toString . }}{{- end -}}
{{- else if kindIs "invalid" . -}}
{{- else -}}
{{ toString . }}
{{- end -}}
{{- end -}}

{{- define "silobridge.labels" -}}
app.kubernetes.io/name: silobridge
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
silobridge.io/party: {{ include "silobridge.str" .Values.party.id | quote }}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "router") */}}
{{- define "silobridge.selectorLabels" -}}
app.kubernetes.io/name: silobridge
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The image `make image` builds: repository:tag, tag defaulting to the chart's appVersion. */}}
{{- define "silobridge.image" -}}
{{ printf "%s:%s" .Values.image.repository (include "silobridge.str" (.Values.image.tag | default .Chart.AppVersion)) | quote }}
{{- end -}}

{{- define "silobridge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{ .Values.serviceAccount.name | default (include "silobridge.fullname" .) }}
{{- else -}}
{{ .Values.serviceAccount.name | default "default" }}
{{- end -}}
{{- end -}}

{{/* Secret and key of one credential URL: (dict "root" $ "ref" .Values.bus "key" "bus-url") */}}
{{- define "silobridge.secretRef" -}}
{{- if .ref.existingSecret -}}
name: {{ .ref.existingSecret }}
key: {{ .ref.existingSecretKey | default .key }}
{{- else -}}
name: {{ include "silobridge.fullname" .root }}-urls
key: {{ .key }}
{{- end -}}
{{- end -}}

{{- define "silobridge.podAnnotations" -}}
checksum/config: {{ include (print .root.Template.BasePath "/configmap.yaml") .root | sha256sum }}
{{- if .root.Values.observability.metrics }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ include "silobridge.str" .port | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- end -}}

{{/* Variables of silobridge.config.CommonSettings: (dict "root" $ "port" 9371 "extra" .Values.extraEnv.router) */}}
{{- define "silobridge.commonEnv" -}}
- name: SILOBRIDGE_PARTY_ID
  value: {{ include "silobridge.str" .root.Values.party.id | quote }}
- name: SILOBRIDGE_BUS_URL
  valueFrom:
    secretKeyRef:
      {{- include "silobridge.secretRef" (dict "root" .root "ref" .root.Values.bus "key" "bus-url") | nindent 6 }}
- name: SILOBRIDGE_BUS_PREFIX
  value: {{ include "silobridge.str" .root.Values.bus.prefix | quote }}
- name: SILOBRIDGE_HTTP_HOST
  value: "0.0.0.0"
- name: SILOBRIDGE_HTTP_PORT
  value: {{ include "silobridge.str" .port | quote }}
- name: SILOBRIDGE_DATA_DIR
  value: /data
- name: SILOBRIDGE_LOG_LEVEL
  value: {{ include "silobridge.str" .root.Values.observability.logLevel | quote }}
- name: SILOBRIDGE_LOG_JSON
  value: {{ include "silobridge.str" .root.Values.observability.logJson | quote }}
{{- range $name, $value := .root.Values.extraEnv.all }}
- name: {{ $name }}
  value: {{ include "silobridge.str" $value | quote }}
{{- end }}
{{- range $name, $value := .extra }}
- name: {{ $name }}
  value: {{ include "silobridge.str" $value | quote }}
{{- end }}
{{- end -}}

{{/* startup (slow first start: migrations, Ray), readiness and liveness on the HTTP port */}}
{{- define "silobridge.probes" -}}
startupProbe:
  httpGet: {path: /healthz, port: http}
  periodSeconds: 2
  failureThreshold: {{ .Values.probes.startupFailureThreshold }}
readinessProbe:
  httpGet: {path: /readyz, port: http}
  periodSeconds: 5
livenessProbe:
  httpGet: {path: /healthz, port: http}
  periodSeconds: 10
  failureThreshold: 6
{{- end -}}

{{/*
Pod-level settings every pod of the release shares: the restricted Pod Security Standard
(non-root uid 10001, seccomp RuntimeDefault), no API token, scheduling constraints.
*/}}
{{- define "silobridge.podSpec" -}}
serviceAccountName: {{ include "silobridge.serviceAccountName" . }}
automountServiceAccountToken: false
enableServiceLinks: false
securityContext:
  runAsNonRoot: true
  runAsUser: 10001
  runAsGroup: 10001
  fsGroup: 10001
  seccompProfile: {type: RuntimeDefault}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "silobridge.containerSecurity" -}}
securityContext:
  runAsNonRoot: true
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities: {drop: [ALL]}
  seccompProfile: {type: RuntimeDefault}
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

{{/* The Ray head this party's node-managers join: ray.address, else the head started here, else "". */}}
{{- define "silobridge.rayAddress" -}}
{{- if .Values.ray.address -}}
{{ .Values.ray.address }}
{{- else if .Values.ray.head -}}
{{ printf "%s-ray-head:%s" (include "silobridge.fullname" .) (include "silobridge.str" .Values.ray.port) }}
{{- end -}}
{{- end -}}
