{{- define "vidatlas.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "vidatlas.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "vidatlas.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "vidatlas.image" -}}
{{ printf "%s:%s" .Values.image.repository .Values.image.tag | quote }}
{{- end -}}

{{- define "vidatlas.claim" -}}
{{- if .Values.bundle.existingClaim -}}{{ .Values.bundle.existingClaim }}{{- else -}}{{ include "vidatlas.fullname" . }}-bundle{{- end -}}
{{- end -}}

{{- define "vidatlas.redisUrl" -}}
{{- if .Values.redis.enabled -}}redis://{{ include "vidatlas.fullname" . }}-redis:6379/0{{- else -}}{{ .Values.redis.externalUrl }}{{- end -}}
{{- end -}}

{{/* the environment every vidatlas container gets: one settings object in code, one env var per field */}}
{{- define "vidatlas.env" -}}
- name: VIDATLAS_SERVICE_BUNDLE
  value: {{ .Values.bundle.mountPath | quote }}
- name: VIDATLAS_SERVICE_PORT
  value: {{ int .Values.service.port | quote }}
- name: VIDATLAS_SERVICE_REDIS_URL
  value: {{ include "vidatlas.redisUrl" . | quote }}
- name: VIDATLAS_SERVICE_CACHE_TTL_S
  value: {{ .Values.service.cacheTtlSeconds | quote }}
- name: VIDATLAS_SERVICE_RELOAD_INTERVAL_S
  value: {{ .Values.service.reloadIntervalSeconds | quote }}
- name: VIDATLAS_SERVICE_WORKERS
  value: {{ int .Values.service.workers | quote }}
- name: VIDATLAS_SERVICE_MAX_CLIP_BYTES
  value: {{ int .Values.service.maxClipBytes | quote }}
- name: VIDATLAS_SERVICE_DRAIN_S
  value: {{ int .Values.service.drainSeconds | quote }}
- name: VIDATLAS_SERVICE_REFLECTION
  value: {{ .Values.service.reflection | quote }}
- name: VIDATLAS_SERVICE_METRICS_PORT
  value: {{ if .Values.metrics.enabled }}{{ int .Values.metrics.port | quote }}{{ else }}"0"{{ end }}
- name: VIDATLAS_SAMPLING_FPS
  value: {{ .Values.indexer.fps | quote }}
- name: VIDATLAS_BACKBONE_NAME
  value: {{ .Values.indexer.backbone | quote }}
- name: VIDATLAS_STORE_MEMORY_BUDGET
  value: {{ .Values.indexer.memoryBudget | default ((.Values.service.resources).limits).memory | default "4Gi" | quote }}
- name: TMPDIR
  value: /tmp
- name: VIDATLAS_LOG_FORMAT
  value: {{ .Values.service.logFormat | quote }}
{{- range $name, $value := .Values.service.extraEnv }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- if .Values.tls.enabled }}
- name: VIDATLAS_SERVICE_TLS_CERT
  value: /etc/vidatlas/tls/tls.crt
- name: VIDATLAS_SERVICE_TLS_KEY
  value: /etc/vidatlas/tls/tls.key
{{- if .Values.tls.clientAuth }}
- name: VIDATLAS_SERVICE_TLS_CLIENT_CA
  value: /etc/vidatlas/tls/ca.crt
{{- end }}
{{- end }}
{{- if .Values.auth.enabled }}
- name: VIDATLAS_SERVICE_AUTH_TOKEN_FILE
  value: /etc/vidatlas/auth/{{ .Values.auth.secretKey }}
{{- end }}
{{- end -}}

{{- define "vidatlas.jobPod" -}}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
volumes:
  - name: bundle
    persistentVolumeClaim:
      claimName: {{ include "vidatlas.claim" . }}
  - name: videos
    persistentVolumeClaim:
      claimName: {{ required "videos.existingClaim is required for the indexer" .Values.videos.existingClaim }}
      readOnly: true
  - name: tmp
    emptyDir: {}
{{- end -}}

{{- define "vidatlas.jobMounts" -}}
- name: bundle
  mountPath: {{ .Values.bundle.mountPath }}
- name: videos
  mountPath: {{ .Values.videos.mountPath }}
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- end -}}
