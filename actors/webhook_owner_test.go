package actors

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/whalecast/whalecast/persistence"
)

// suspendRecorder is a webhook store that records suspensions; any other call panics.
type suspendRecorder struct {
	persistence.WebhookStore
	fail    error
	reasons []string
}

func (s *suspendRecorder) SuspendWebhook(_ string, _ time.Time, reason string) error {
	if s.fail != nil {
		return s.fail
	}
	s.reasons = append(s.reasons, reason)
	return nil
}

func TestCheckOwner(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	hook := persistence.Webhook{ID: "wh_0123456789abcdef", Owner: "alice"}
	long := strings.Repeat("r", persistence.MaxSuspendReason+10)
	storeDown := errors.New("store down")
	tests := []struct {
		name       string
		valid      func(persistence.Webhook) error
		storeErr   error
		wantReason string // the suspension's reason; empty: none
		wantErr    bool
	}{
		{"no check", nil, nil, "", false},
		{"trusted", func(persistence.Webhook) error { return nil }, nil, "", false},
		{"revoked", func(persistence.Webhook) error {
			return &OwnerRevokedError{Reason: "the owner's client was revoked"}
		}, nil, "the owner's client was revoked", false},
		{"long reason", func(persistence.Webhook) error {
			return &OwnerRevokedError{Reason: long}
		}, nil, long[:persistence.MaxSuspendReason], false},
		{"cannot tell", func(persistence.Webhook) error { return storeDown }, nil, "", true},
		{"suspension not stored", func(persistence.Webhook) error {
			return &OwnerRevokedError{Reason: "x"}
		}, storeDown, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &suspendRecorder{fail: tt.storeErr}
			deps := WebhookDeps{Store: store, OwnerValid: tt.valid}

			got, err := checkOwner(deps, hook, now)

			if (err != nil) != tt.wantErr {
				t.Errorf("err: got %v, want error %v", err, tt.wantErr)
			}
			switch {
			case tt.wantReason == "" && got != nil:
				t.Errorf("got suspension %+v, want none", got)
			case tt.wantReason == "":
			case got == nil || got.reason != tt.wantReason || !got.at.Equal(now) ||
				got.id != hook.ID:
				t.Errorf("got suspension %+v, want %q at %v", got, tt.wantReason, now)
			case len(store.reasons) != 1 || store.reasons[0] != tt.wantReason:
				t.Errorf("stored %q, want %q once", store.reasons, tt.wantReason)
			}
		})
	}
	if !errors.Is(&OwnerRevokedError{Reason: "x"}, ErrWebhookOwnerRevoked) {
		t.Error("OwnerRevokedError does not wrap ErrWebhookOwnerRevoked")
	}
}
