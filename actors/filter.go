package actors

import (
	"encoding/json"
	"slices"

	"github.com/whalecast/whalecast/internal/alert"
)

// Meta is what a filter reads of a stored record. The store copies it out of the record once,
// so that neither the broadcaster nor a session decodes the JSON again to filter it.
type Meta struct {
	Kind     alert.Kind
	ValueSat int64
	Test     bool
	Detector string
	// Status is a whale_alert's status when raised (mempool) or an update's new status.
	Status alert.Status
}

// metaFields is the part of a stored record's JSON that Meta holds; alerts and updates share
// these field names.
type metaFields struct {
	ValueSat int64        `json:"value_sat"`
	Test     bool         `json:"test"`
	Detector string       `json:"detector"`
	Status   alert.Status `json:"status"`
}

// MetaOf reads the filter fields of a stored record. A record that does not decode gets a
// Meta that every filter passes, so that a damaged record is seen rather than hidden.
func MetaOf(st alert.Stored) Meta {
	var f metaFields
	if err := json.Unmarshal(st.Data, &f); err != nil {
		return Meta{Kind: st.Kind, Test: true}
	}
	if f.Status == "" {
		f.Status = alert.StatusMempool
	}
	return Meta{Kind: st.Kind, ValueSat: f.ValueSat, Test: f.Test, Detector: f.Detector,
		Status: f.Status}
}

// Filter is a session's choice of records. The zero Filter wants everything. A Filter is
// shared between a session and the broadcaster and must not be modified once sent.
type Filter struct {
	// MinSat is the least value, in satoshis, of the alerts (and of their updates) wanted.
	MinSat int64
	// Detectors, when not nil, lists the detectors whose alerts are wanted.
	Detectors DetectorFilter
	// Statuses, when not nil, lists the statuses wanted: a whale_alert has status mempool,
	// an alert_update its new status.
	Statuses StatusFilter
}

// Wants reports whether a record passes the filter. Test alerts always pass, so that a
// client can check its pipeline whatever it filters.
func (f Filter) Wants(m Meta) bool {
	return m.Test || (m.ValueSat >= f.MinSat && f.Detectors.Wants(m.Detector) &&
		f.Statuses.Wants(m.Status))
}

// DetectorFilter is a session's choice of detectors: nil wants every one.
type DetectorFilter []string

// Wants reports whether an alert raised by detector passes the filter.
func (f DetectorFilter) Wants(detector string) bool {
	return f == nil || slices.Contains(f, detector)
}

// StatusFilter is a session's choice of statuses: nil wants every one.
type StatusFilter []alert.Status

// Wants reports whether a record with status passes the filter.
func (f StatusFilter) Wants(status alert.Status) bool {
	return f == nil || slices.Contains(f, status)
}
