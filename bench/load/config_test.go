package load

import (
	"errors"
	"testing"
	"time"
)

func TestConfigCheck(t *testing.T) {
	ok := Config{URL: "ws://127.0.0.1:8765/ws", Clients: 10, Duration: 5 * time.Second}
	tests := []struct {
		name string
		edit func(*Config)
		ok   bool
	}{
		{"minimal", func(*Config) {}, true},
		{"localhost", func(c *Config) { c.URL = "ws://localhost:8765/ws" }, true},
		{"ipv6 loopback", func(c *Config) { c.URL = "ws://[::1]:8765/ws" }, true},
		{"wss", func(c *Config) { c.URL = "wss://127.0.0.1:8765/ws" }, true},
		{"remote host refused", func(c *Config) { c.URL = "ws://192.0.2.7:8765/ws" }, false},
		{"remote name refused", func(c *Config) { c.URL = "ws://example.com/ws" }, false},
		{"remote host allowed", func(c *Config) {
			c.URL, c.AllowRemote = "ws://192.0.2.7:8765/ws", true
		}, true},
		{"remote publish url refused", func(c *Config) {
			c.PublishURL = "http://192.0.2.7/api/v1/admin/publish"
		}, false},
		{"http url", func(c *Config) { c.URL = "http://127.0.0.1:8765/ws" }, false},
		{"no url", func(c *Config) { c.URL = "" }, false},
		{"no clients", func(c *Config) { c.Clients = 0 }, false},
		{"too many clients", func(c *Config) { c.Clients = MaxClients + 1 }, false},
		{"too short", func(c *Config) { c.Duration = time.Millisecond }, false},
		{"too long", func(c *Config) { c.Duration = 25 * time.Hour }, false},
		{"unknown auth", func(c *Config) { c.Auth = "cookie" }, false},
		{"negative rate", func(c *Config) { c.PublishRate = -1 }, false},
		{"100 alerts a call", func(c *Config) { c.PublishRate = 100 }, true},
		{"over 100 alerts a call", func(c *Config) { c.PublishRate = 101 }, false},
		{"over 100 a call, published more often", func(c *Config) {
			c.PublishRate, c.PublishEvery = 1000, 100*time.Millisecond
		}, true},
		{"publish too often", func(c *Config) { c.PublishEvery = time.Millisecond }, false},
		{"negative pid", func(c *Config) { c.PID = -1 }, false},
		{"long drain", func(c *Config) { c.Drain = time.Hour }, false},
		{"publish delay", func(c *Config) { c.PublishDelay = 2 * time.Second }, true},
		{"publish delay past the run", func(c *Config) { c.PublishDelay = c.Duration }, false},
		{"negative publish delay", func(c *Config) { c.PublishDelay = -time.Second }, false},
		{"stalled", func(c *Config) { c.Stalled = 9 }, true},
		{"every client stalled", func(c *Config) { c.Stalled = 10 }, false},
		{"negative stalled", func(c *Config) { c.Stalled = -1 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			err := c.Check()
			if (err == nil) != tt.ok {
				t.Fatalf("Check: got %v, want ok %v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrConfig) {
				t.Errorf("error %v does not wrap ErrConfig", err)
			}
		})
	}
}

func TestConfigURLs(t *testing.T) {
	tests := []struct {
		url, publish, wantPublish, wantStats string
	}{
		{"ws://127.0.0.1:8765/ws", "", "http://127.0.0.1:8765/api/v1/admin/publish",
			"http://127.0.0.1:8765/api/v1/stats"},
		{"wss://localhost:9443/ws", "", "https://localhost:9443/api/v1/admin/publish",
			"https://localhost:9443/api/v1/stats"},
		{"ws://127.0.0.1:8765/ws", "http://127.0.0.1:9000/p", "http://127.0.0.1:9000/p",
			"http://127.0.0.1:9000/api/v1/stats"},
	}
	for _, tt := range tests {
		c := Config{URL: tt.url, PublishURL: tt.publish}
		if got := c.publishURL(); got != tt.wantPublish {
			t.Errorf("%s: publish url got %q, want %q", tt.url, got, tt.wantPublish)
		}
		if got := c.statsURL(); got != tt.wantStats {
			t.Errorf("%s: stats url got %q, want %q", tt.url, got, tt.wantStats)
		}
	}
}

func TestParseRSS(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    uint64
		wantErr bool
	}{
		{"usual", "Name:\tengine\nVmPeak:\t 2000 kB\nVmRSS:\t   1234 kB\nThreads: 9\n",
			1234 << 10, false},
		{"missing", "Name:\tengine\n", 0, true},
		{"bad unit", "VmRSS:\t 12 MB\n", 0, true},
		{"not a number", "VmRSS:\t x kB\n", 0, true},
	}
	for _, tt := range tests {
		got, err := parseRSS([]byte(tt.in))
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("%s: got %d, %v; want %d, error %v", tt.name, got, err, tt.want,
				tt.wantErr)
		}
	}
}
