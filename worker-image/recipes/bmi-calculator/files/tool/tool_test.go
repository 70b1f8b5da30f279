package tool

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func TestCalculate(t *testing.T) {
	r, err := Calculate(70, 175)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(r.BMI-22.857) > 0.001 || r.Category != "Healthy weight" {
		t.Errorf("70 kg, 175 cm: %+v", r)
	}
	if math.Abs(r.HealthyMin-56.66) > 0.01 || math.Abs(r.HealthyMax-76.26) > 0.01 {
		t.Errorf("healthy range: %v-%v", r.HealthyMin, r.HealthyMax)
	}
	for bmi, want := range map[float64]string{17: "Underweight", 18.5: "Healthy weight", 24.99: "Healthy weight", 25: "Overweight", 29.9: "Overweight", 30: "Obesity", 41: "Obesity"} {
		if got := Category(bmi); got != want {
			t.Errorf("Category(%v) = %s, want %s", bmi, got, want)
		}
	}
	for _, bad := range [][2]float64{{0, 170}, {70, 10}, {700, 170}, {70, 300}, {math.NaN(), 170}} {
		if _, err := Calculate(bad[0], bad[1]); err == nil {
			t.Errorf("Calculate(%v) should fail", bad)
		}
	}
}

func TestParseImperialHeight(t *testing.T) {
	for in, want := range map[string]float64{"69": 69, "5'9": 69, "5' 9\"": 69, "5ft 9in": 69, "6 feet": 72, "70.5in": 70.5} {
		got, err := ParseImperialHeight(in)
		if err != nil || got != want {
			t.Errorf("ParseImperialHeight(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseImperialHeight("tall"); err == nil {
		t.Error("'tall' should fail")
	}
}

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := Run([]string{"--weight", "70", "--height", "175"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	want := "BMI:            22.9\nCategory:       Healthy weight\nHealthy range:  56.7-76.3 kg for 175 cm\n"
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
	out.Reset()
	if err := Run([]string{"--imperial", "154", "5'9"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "BMI:            22.7") || !strings.Contains(out.String(), "lb for 5'9\"") {
		t.Errorf("imperial:\n%s", out.String())
	}
	if err := Run([]string{"70"}, nil, &out); err == nil {
		t.Error("missing height should fail")
	}
}
