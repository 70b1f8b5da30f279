package tool

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func mustUnit(t *testing.T, s string) *Unit {
	t.Helper()
	u, ok := FindUnit(s)
	if !ok {
		t.Fatalf("unit %q not found", s)
	}
	return u
}

func TestConvert(t *testing.T) {
	cases := []struct {
		value    float64
		from, to string
		want     float64
	}{
		{10, "km", "mi", 6.213711922},
		{1, "mile", "metres", 1609.344},
		{12, "in", "ft", 1},
		{100, "celsius", "°F", 212},
		{-40, "F", "C", -40},
		{0, "K", "c", -273.15},
		{1, "lb", "kg", 0.45359237},
		{1, "gal", "l", 3.785411784},
		{100, "km/h", "mph", 62.13711922},
		{1, "kn", "km/h", 1.852},
	}
	for _, c := range cases {
		got, err := Convert(c.value, mustUnit(t, c.from), mustUnit(t, c.to))
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-c.want) > 1e-6*math.Max(1, math.Abs(c.want)) {
			t.Errorf("%v %s -> %s = %v, want %v", c.value, c.from, c.to, got, c.want)
		}
	}
	if _, err := Convert(1, mustUnit(t, "kg"), mustUnit(t, "km")); err == nil {
		t.Error("kg to km should fail")
	}
	if _, err := Convert(-500, mustUnit(t, "c"), mustUnit(t, "f")); err == nil {
		t.Error("below absolute zero should fail")
	}
}

func TestParse(t *testing.T) {
	cases := map[string][2]string{
		"10 km to mi":        {"km", "mi"},
		"10 km mi":           {"km", "mi"},
		"10km to miles":      {"km", "mi"},
		"8 fl oz in ml":      {"fl oz", "ml"},
		"3 in in cm":         {"in", "cm"},
		"5 ft -> m":          {"ft", "m"},
		"100 degrees C to F": {"°C", "°F"},
		"2,5 l to cups":      {"l", "cup"},
		"30 mph km/h":        {"mph", "km/h"},
	}
	for expr, want := range cases {
		_, from, to, err := Parse(expr)
		if err != nil {
			t.Errorf("Parse(%q): %v", expr, err)
			continue
		}
		if from.Symbol != want[0] || to.Symbol != want[1] {
			t.Errorf("Parse(%q) = %s -> %s, want %s -> %s", expr, from.Symbol, to.Symbol, want[0], want[1])
		}
	}
	for _, bad := range []string{"km to mi", "10 furlongs to m", "10 km", ""} {
		if _, _, _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) should fail", bad)
		}
	}
}

func TestFormatNumber(t *testing.T) {
	for in, want := range map[float64]string{6.213711922: "6.21371", 1609.344: "1609.34", 212: "212", 0.000123456789: "0.000123457", 1234567: "1234570", -40: "-40"} {
		if got := FormatNumber(in); got != want {
			t.Errorf("FormatNumber(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := Run([]string{"10", "km", "to", "mi"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "10 km = 6.21371 mi\n" {
		t.Errorf("got %q", out.String())
	}
	out.Reset()
	if err := Run(nil, strings.NewReader("100 c f\n"), &out); err != nil || out.String() != "100 °C = 212 °F\n" {
		t.Errorf("stdin: %v %q", err, out.String())
	}
	out.Reset()
	if err := Run([]string{"--list"}, nil, &out); err != nil || !strings.Contains(out.String(), "Temperature:") {
		t.Errorf("--list: %v %q", err, out.String())
	}
	if err := Run([]string{"10", "kg", "to", "km"}, nil, &out); err == nil {
		t.Error("mismatched categories should fail")
	}
}
