{{/* Labels shared by every object. */}}
{{- define "pvwarden.labels" -}}
app.kubernetes.io/name: pvwarden
app.kubernetes.io/part-of: pvwarden
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}

{{/* The container image. */}}
{{- define "pvwarden.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end }}

{{/* The hardened pod and container security settings both workloads use. */}}
{{- define "pvwarden.podSecurity" -}}
runAsNonRoot: true
runAsUser: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}
{{- define "pvwarden.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end }}

{{/* A webhook failure policy, refused at install time unless the API server accepts it. */}}
{{- define "pvwarden.failurePolicy" -}}
{{- if not (has . (list "Fail" "Ignore")) -}}
{{- fail (printf "webhook failure policy must be Fail or Ignore, not %q" (toString .)) -}}
{{- end -}}
{{- . -}}
{{- end -}}
