package tool

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	ok := map[string]time.Duration{
		"90": 90 * time.Second, "1:30": 90 * time.Second, "1:02:03": time.Hour + 2*time.Minute + 3*time.Second,
		"25m": 25 * time.Minute, "1h30m": 90 * time.Minute, "45s": 45 * time.Second, "2.5": 3 * time.Second,
		"24h": 24 * time.Hour, " 1 m ": time.Minute,
	}
	for in, want := range ok {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "-5", "soon", "1:75", "25h", "1:2:3:4"} {
		if d, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", bad, d)
		}
	}
}

func TestFormatRemaining(t *testing.T) {
	cases := map[time.Duration]string{
		0: "00:00", 1500 * time.Millisecond: "00:02", 90 * time.Second: "01:30",
		time.Hour + 2*time.Minute + 3*time.Second: "1:02:03", 24 * time.Hour: "24:00:00",
	}
	for in, want := range cases {
		if got := FormatRemaining(in); got != want {
			t.Errorf("FormatRemaining(%v) = %q, want %q", in, got, want)
		}
	}
}

type fakeClock struct {
	now   time.Time
	slept time.Duration
}

func (c *fakeClock) Now() time.Time { return c.now }
func (c *fakeClock) Sleep(d time.Duration) {
	c.now = c.now.Add(d)
	c.slept += d
}

func TestCountdown(t *testing.T) {
	clock := &fakeClock{now: time.Unix(0, 0)}
	var out bytes.Buffer
	if err := run([]string{"3", "--message", "Tea\nis ready"}, &out, clock, false); err != nil {
		t.Fatal(err)
	}
	if out.String() != "00:03\n00:02\n00:01\nTea is ready\n" {
		t.Errorf("got %q", out.String())
	}
	if clock.slept != 3*time.Second {
		t.Errorf("slept %v, want 3s", clock.slept)
	}

	clock = &fakeClock{now: time.Unix(0, 0)}
	out.Reset()
	if err := run([]string{"3m"}, &out, clock, false); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2+60+1 || lines[0] != "03:00" || lines[1] != "02:00" || lines[2] != "01:00" || lines[len(lines)-1] != "Time is up!" {
		t.Errorf("long countdown printed %d lines: %q ...", len(lines), lines[:4])
	}

	clock = &fakeClock{now: time.Unix(0, 0)}
	out.Reset()
	if err := run([]string{"--quiet", "2"}, &out, clock, true); err != nil {
		t.Fatal(err)
	}
	if out.String() != "Time is up!\a\n" {
		t.Errorf("quiet terminal: %q", out.String())
	}
	if err := run(nil, &out, clock, false); err == nil {
		t.Error("no time should fail")
	}
}
