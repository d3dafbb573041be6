package ratelimit

import (
	"strings"
	"testing"
	"time"
)

func TestParseLimit(t *testing.T) {
	week := 7 * 24 * time.Hour
	tests := []struct {
		in   string
		want Limit
	}{
		{"100/1hour", Limit{100, time.Hour}},
		{"100/hour", Limit{100, time.Hour}},
		{"100/hours", Limit{100, time.Hour}},
		{"10/1second", Limit{10, time.Second}},
		{"10/seconds", Limit{10, time.Second}},
		{"5/2minute", Limit{5, 2 * time.Minute}},
		{"5/2minutes", Limit{5, 2 * time.Minute}},
		{"1000/1day", Limit{1000, 24 * time.Hour}},
		{"7/1week", Limit{7, week}},
		{"7/52weeks", Limit{7, 52 * week}},
		{"0/1hour", Limit{0, time.Hour}},
		{" 100/1hour ", Limit{100, time.Hour}},
		{"unlimited", Limit{-1, 0}},
		{"9223372036854775807/1second", Limit{1<<63 - 1, time.Second}},
	}
	for _, tt := range tests {
		got, err := ParseLimit(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseLimit(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseLimitErrors(t *testing.T) {
	tests := []struct{ in, why string }{
		{"", "no '/'"},
		{"100", "no '/'"},
		{"100/1h", `unit "h"`},
		{"100/1Hour", `unit "Hour"`},
		{"100/1month", `unit "month"`},
		{"100/s", `unit "s"`},
		{"100/1secondss", `unit "secondss"`},
		{"100/1", `unit ""`},
		{"100/", `unit ""`},
		{"/1hour", `count ""`},
		{"-1/1hour", `count "-1"`},
		{"+1/1hour", `count "+1"`},
		{"1.5/1hour", `count "1.5"`},
		{"ten/1hour", `count "ten"`},
		{"99999999999999999999/1hour", "too large"},
		{"100/0hour", `multiplier "0"`},
		{"100/99999999999999999999second", "multiplier"},
		{"100/5300week", "longer than 100 years"},
		{"100/1 hour", `unit " hour"`},
		{"Unlimited", "no '/'"},
	}
	for _, tt := range tests {
		_, err := ParseLimit(tt.in)
		if err == nil {
			t.Errorf("ParseLimit(%q) succeeded; want an error", tt.in)
			continue
		}
		msg := err.Error()
		// Every error names the value, why it failed and the accepted forms.
		for _, want := range []string{tt.in, tt.why, `"unlimited"`, "second, minute, hour, day or week"} {
			if !strings.Contains(msg, want) {
				t.Errorf("ParseLimit(%q) error %q lacks %q", tt.in, msg, want)
			}
		}
	}
}

func TestLimitStringRoundTrips(t *testing.T) {
	for _, in := range []string{"100/1hour", "10/1second", "5/2minute", "1000/1day", "7/1week", "3/90second", "unlimited"} {
		l, err := ParseLimit(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := l.String(); got != in {
			t.Errorf("ParseLimit(%q).String() = %q", in, got)
		}
	}
	if got := (Limit{Count: 2, Period: 1500 * time.Millisecond}).String(); got != "2/1.5s" {
		t.Errorf("sub-second period String() = %q, want 2/1.5s", got)
	}
}

func TestHeaderValue(t *testing.T) {
	if got := HeaderValue("default", 100) + HeaderValue("burst", 9); got != "name=default,100;name=burst,9;" {
		t.Errorf("HeaderValue = %q", got)
	}
}
