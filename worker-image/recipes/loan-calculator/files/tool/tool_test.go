package tool

import (
	"bytes"
	"strings"
	"testing"
)

func TestCalculateMortgage(t *testing.T) {
	loan, err := Calculate(20000000, 4.5, 360)
	if err != nil {
		t.Fatal(err)
	}
	if loan.Payment != 101337 { // the well-known 1,013.37
		t.Errorf("payment = %d, want 101337", loan.Payment)
	}
	if len(loan.Schedule) != 30 || loan.Schedule[29].Balance != 0 {
		t.Errorf("schedule has %d years, final balance %d", len(loan.Schedule), loan.Schedule[len(loan.Schedule)-1].Balance)
	}
	var principal, interest int64
	for _, y := range loan.Schedule {
		principal += y.Principal
		interest += y.Interest
	}
	if principal != loan.Amount || interest != loan.Interest || loan.Total != loan.Amount+loan.Interest {
		t.Errorf("totals do not add up: principal %d interest %d total %d", principal, interest, loan.Total)
	}
	// Known value: about 164,813 of interest on 200,000 at 4.5% over 30 years.
	if loan.Interest < 16475000 || loan.Interest > 16485000 {
		t.Errorf("interest = %d, want about 16481300", loan.Interest)
	}
}

func TestCalculateZeroRateAndShortTerm(t *testing.T) {
	loan, err := Calculate(120000, 0, 12)
	if err != nil {
		t.Fatal(err)
	}
	if loan.Payment != 10000 || loan.Interest != 0 || loan.Total != 120000 {
		t.Errorf("zero rate: %+v", loan)
	}
	loan, err = Calculate(100000, 12, 1)
	if err != nil {
		t.Fatal(err)
	}
	if loan.Total != 101000 || loan.Interest != 1000 {
		t.Errorf("one month at 1%%: %+v", loan)
	}
	for _, bad := range [][3]float64{{0, 5, 12}, {1000, -1, 12}, {1000, 5, 0}, {1000, 5, 601}} {
		if _, err := Calculate(int64(bad[0]), bad[1], int(bad[2])); err == nil {
			t.Errorf("Calculate(%v) should fail", bad)
		}
	}
}

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := Run([]string{"--amount", "200,000", "--rate", "4.5", "--years", "30"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Monthly payment:  1,013.37", "Term:             30 years (360 payments)", "Total interest:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := Run([]string{"15000", "6.9%", "5", "--schedule"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Monthly payment:  296.31") || strings.Count(out.String(), "\n") != 13 {
		t.Errorf("positional form with schedule:\n%s", out.String())
	}
	if err := Run([]string{"--amount", "1000"}, nil, &out); err == nil {
		t.Error("missing rate and term should fail")
	}
}
