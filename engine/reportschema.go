package engine

import _ "embed"

// ReportSchemaVersion is the report.json schema_version this build writes. It changes when
// a field is removed or changes meaning; new optional fields keep it.
const ReportSchemaVersion = 1

// ReportSchema is report.schema.json, the JSON Schema (draft 2020-12) report.json follows.
//
//go:embed report.schema.json
var ReportSchema []byte
