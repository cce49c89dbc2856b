package system_test

import (
	"errors"
	"testing"

	"github.com/whalecast/whalecast/system"
)

func TestParseSource(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		source   string
		wantKind string
		wantArg  string
		wantRate float64
		wantErr  bool
	}{
		{name: "sim", source: "sim", wantKind: "sim", wantRate: system.DefaultSimRate},
		{name: "replay", source: "replay:a.dat,b*.dat", wantKind: "replay",
			wantArg: "a.dat,b*.dat", wantRate: system.DefaultReplayRate},
		{name: "zmq", source: "zmq:tcp://127.0.0.1:28332", wantKind: "zmq",
			wantArg: "tcp://127.0.0.1:28332", wantRate: 0},
		{name: "zmq host name", source: "zmq:tcp://node.lan:28332", wantKind: "zmq",
			wantArg: "tcp://node.lan:28332", wantRate: 0},
		{name: "zmq empty", source: "zmq:", wantErr: true},
		{name: "zmq no scheme", source: "zmq:127.0.0.1:28332", wantErr: true},
		{name: "zmq udp", source: "zmq:udp://127.0.0.1:28332", wantErr: true},
		{name: "zmq no host", source: "zmq:tcp://:28332", wantErr: true},
		{name: "zmq bad port", source: "zmq:tcp://127.0.0.1:port", wantErr: true},
		{name: "replay empty", source: "replay:", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kind, arg, err := system.ParseSource(tt.source)
			if tt.wantErr {
				if !errors.Is(err, system.ErrConfig) {
					t.Errorf("ParseSource(%q) error %v, want one wrapping ErrConfig", tt.source,
						err)
				}
				return
			}
			if err != nil || kind != tt.wantKind || arg != tt.wantArg {
				t.Errorf("ParseSource(%q) = %q, %q, %v, want %q, %q, nil", tt.source, kind, arg,
					err, tt.wantKind, tt.wantArg)
			}
			cfg := system.Config{Source: tt.source, Rate: -1}
			if got := cfg.SourceRate(); got != tt.wantRate {
				t.Errorf("rate of %q = %v, want %v", tt.source, got, tt.wantRate)
			}
		})
	}
}
