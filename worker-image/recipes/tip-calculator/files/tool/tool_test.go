package tool

import (
	"bytes"
	"strings"
	"testing"
)

func TestCalculate(t *testing.T) {
	cases := []struct {
		bill    int64
		percent float64
		people  int
		round   bool
		tip     int64
		total   int64
		per     int64
	}{
		{10000, 15, 1, false, 1500, 11500, 11500},
		{8640, 20, 4, false, 1728, 10368, 2592},
		{10000, 15, 3, false, 1500, 11500, 3834}, // 38.33... rounded up so nobody pays short
		{5710, 15, 3, true, 890, 6600, 2200},     // 21.89 each, rounded up to 22.00,
		{1999, 12.5, 1, false, 250, 2249, 2249},
		{0, 20, 2, false, 0, 0, 0},
	}
	for _, c := range cases {
		r, err := Calculate(c.bill, c.percent, c.people, c.round)
		if err != nil {
			t.Fatal(err)
		}
		if r.Tip != c.tip || r.Total != c.total || r.PerPerson != c.per {
			t.Errorf("Calculate(%d, %v, %d, %v) = tip %d total %d per %d; want %d %d %d",
				c.bill, c.percent, c.people, c.round, r.Tip, r.Total, r.PerPerson, c.tip, c.total, c.per)
		}
	}
	for _, bad := range []struct {
		percent float64
		people  int
	}{{-1, 1}, {101, 1}, {15, 0}, {15, 1001}} {
		if _, err := Calculate(1000, bad.percent, bad.people, false); err == nil {
			t.Errorf("Calculate with %v/%d should fail", bad.percent, bad.people)
		}
	}
}

func TestParseAmount(t *testing.T) {
	ok := map[string]int64{
		"84.50": 8450, "84,50": 8450, "$1,234.56": 123456, "1.234,56": 123456, "€ 12": 1200,
		"0.5": 50, ".75": 75, "1,500": 150000, "1.5": 150, "100": 10000, "1 000,5": 100050, "1.999": 199900, "12.500,00": 1250000,
	}
	for in, want := range ok {
		got, err := ParseAmount(in)
		if err != nil || got != want {
			t.Errorf("ParseAmount(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "abc", "-5", "1.2.3,4,5", "12.345.6", "12abc", "1,23,4.5", "1.2345"} {
		if v, err := ParseAmount(bad); err == nil {
			t.Errorf("ParseAmount(%q) = %d, want an error", bad, v)
		}
	}
}

func TestFormatCents(t *testing.T) {
	for in, want := range map[int64]string{0: "0.00", 5: "0.05", 123456: "1,234.56", 100000000: "1,000,000.00", -250: "-2.50"} {
		if got := FormatCents(in); got != want {
			t.Errorf("FormatCents(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := Run([]string{"--percent", "20", "--people", "4", "86.40"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Tip (20%):", "17.28", "103.68", "Each of 4:", "25.92"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := Run(nil, strings.NewReader("50\n"), &out); err != nil || !strings.Contains(out.String(), "57.50") {
		t.Errorf("stdin input: %v\n%s", err, out.String())
	}
	if err := Run(nil, nil, &out); err == nil {
		t.Error("no amount should fail")
	}
	if err := Run([]string{"lots"}, nil, &out); err == nil {
		t.Error("a non-amount should fail")
	}
}
