// Package tool is the tip calculator: tip, total and each person's share of a bill.
package tool

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Summary is one line shown in --help next to the default action.
const Summary = "work out the tip and split a bill"

// Usage describes the default action's options and examples ({name} becomes the binary name).
const Usage = `
Options:
  --percent P   tip percentage (default 15)
  --people N    number of people sharing the bill (default 1)
  --round       round each person's share up to a whole amount

Input is the bill amount, for example 84.50 or 84,50.

Examples:
  {name} 100
  {name} --percent 20 --people 4 86.40
  {name} --people 3 --round 57.10
`

// Result is a calculated bill. All amounts are in cents.
type Result struct {
	Bill      int64
	Tip       int64
	Total     int64
	PerPerson int64
	People    int
	Percent   float64
}

// Calculate works out the tip and the share per person. The share is rounded up to the next cent
// so the people together never pay less than the total; with roundUp it is rounded up to a whole
// amount and the tip grows accordingly.
func Calculate(bill int64, percent float64, people int, roundUp bool) (Result, error) {
	if bill < 0 || bill > 1e13 {
		return Result{}, errors.New("the bill must be between 0 and 100,000,000,000")
	}
	if math.IsNaN(percent) || percent < 0 || percent > 100 {
		return Result{}, errors.New("the tip percentage must be between 0 and 100")
	}
	if people < 1 || people > 1000 {
		return Result{}, errors.New("the number of people must be between 1 and 1000")
	}
	tip := int64(math.Round(float64(bill) * percent / 100))
	total := bill + tip
	per := ceilDiv(total, int64(people))
	if roundUp {
		per = ceilDiv(per, 100) * 100
		total = per * int64(people)
		tip = total - bill
	}
	return Result{Bill: bill, Tip: tip, Total: total, PerPerson: per, People: people, Percent: percent}, nil
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// ParseAmount reads an amount like "84.50", "84,50", "$1,234.56" or "1.234,56" into cents.
func ParseAmount(s string) (int64, error) {
	clean := strings.Map(func(r rune) rune {
		switch {
		case r >= '0' && r <= '9', r == '.', r == ',', r == '-':
			return r
		case r == ' ' || r == '\u00a0' || r == '\'' || strings.ContainsRune("$€£¥₹", r):
			return -1
		}
		return 'x'
	}, strings.TrimSpace(s))
	if clean == "" || strings.ContainsRune(clean, 'x') || strings.Contains(clean, "-") {
		return 0, fmt.Errorf("%q is not an amount", s)
	}
	dot, comma := strings.LastIndex(clean, "."), strings.LastIndex(clean, ",")
	decimal := -1
	switch {
	case dot >= 0 && comma >= 0:
		if dot > comma {
			decimal = dot
		} else {
			decimal = comma
		}
	case dot >= 0 && strings.Count(clean, ".") == 1 && len(clean)-dot-1 != 3:
		decimal = dot
	case comma >= 0 && strings.Count(clean, ",") == 1 && len(clean)-comma-1 != 3:
		decimal = comma
	}
	whole, frac := clean, ""
	if decimal >= 0 {
		whole, frac = clean[:decimal], clean[decimal+1:]
	}
	if strings.ContainsAny(frac, ".,") || !validGrouping(whole) {
		return 0, fmt.Errorf("%q is not an amount", s)
	}
	whole = strings.NewReplacer(",", "", ".", "").Replace(whole)
	if len(whole) > 12 || (whole == "" && frac == "") {
		return 0, fmt.Errorf("%q is not an amount", s)
	}
	if whole == "" {
		whole = "0"
	}
	if len(frac) > 2 {
		return 0, fmt.Errorf("%q has more than two decimals", s)
	}
	frac = (frac + "00")[:2]
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not an amount", s)
	}
	f, _ := strconv.ParseInt(frac, 10, 64)
	return w*100 + f, nil
}

// validGrouping accepts "1234", "1,234" and "1.234.567" but not "12.34.5" or "1,23".
func validGrouping(whole string) bool {
	sep := ""
	if strings.Contains(whole, ",") {
		sep = ","
	}
	if strings.Contains(whole, ".") {
		if sep != "" {
			return false
		}
		sep = "."
	}
	if sep == "" {
		return true
	}
	groups := strings.Split(whole, sep)
	if len(groups[0]) < 1 || len(groups[0]) > 3 {
		return false
	}
	for _, g := range groups[1:] {
		if len(g) != 3 {
			return false
		}
	}
	return true
}

// FormatCents writes cents as 1,234.56.
func FormatCents(c int64) string {
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	whole := strconv.FormatInt(c/100, 10)
	var b strings.Builder
	for i, d := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	return fmt.Sprintf("%s%s.%02d", sign, b.String(), c%100)
}

// Run is the default action: args are the command-line arguments after the program name, in is
// piped standard input (nil when there is none), out receives the result.
func Run(args []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("tool", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	percent := fs.Float64("percent", 15, "")
	people := fs.Int("people", 1, "")
	round := fs.Bool("round", false, "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	input := strings.Join(fs.Args(), " ")
	if input == "" && in != nil {
		data, err := io.ReadAll(io.LimitReader(in, 1024))
		if err != nil {
			return err
		}
		input = strings.TrimSpace(string(data))
	}
	if input == "" {
		return errors.New("give the bill amount, for example 84.50")
	}
	bill, err := ParseAmount(input)
	if err != nil {
		return err
	}
	r, err := Calculate(bill, *percent, *people, *round)
	if err != nil {
		return err
	}
	pct := strconv.FormatFloat(r.Percent, 'f', -1, 64)
	fmt.Fprintf(out, "%-16s%14s\n", "Bill:", FormatCents(r.Bill))
	fmt.Fprintf(out, "%-16s%14s\n", "Tip ("+pct+"%):", FormatCents(r.Tip))
	fmt.Fprintf(out, "%-16s%14s\n", "Total:", FormatCents(r.Total))
	if r.People > 1 {
		fmt.Fprintf(out, "%-16s%14s\n", fmt.Sprintf("Each of %d:", r.People), FormatCents(r.PerPerson))
	}
	return nil
}
