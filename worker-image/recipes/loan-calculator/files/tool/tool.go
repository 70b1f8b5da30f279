// Package tool is the loan calculator: monthly payment, totals and a repayment schedule.
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
const Summary = "calculate loan or mortgage payments"

// Usage describes the default action's options and examples ({name} becomes the binary name).
const Usage = `
Options:
  --amount A     amount borrowed
  --rate R       annual interest rate in percent, e.g. 4.5
  --years Y      term in years (or --months M)
  --months M     term in months
  --schedule     also print the year-by-year repayment schedule

The amount, rate and years can also be given in that order as arguments.

Examples:
  {name} --amount 200000 --rate 4.5 --years 30
  {name} 15000 6.9 5 --schedule
`

// Year is one row of the yearly repayment schedule. Amounts are in cents.
type Year struct {
	Year      int
	Paid      int64
	Interest  int64
	Principal int64
	Balance   int64
}

// Loan is a calculated loan. Amounts are in cents.
type Loan struct {
	Amount   int64
	Rate     float64
	Months   int
	Payment  int64
	Total    int64
	Interest int64
	Schedule []Year
}

// Calculate works out the fixed monthly payment (annuity), rounded to the cent, then simulates the
// repayments month by month; the last payment settles the remaining balance exactly.
func Calculate(amount int64, annualRate float64, months int) (Loan, error) {
	if amount <= 0 || amount > 1e13 {
		return Loan{}, errors.New("the amount must be more than 0 and at most 100,000,000,000")
	}
	if math.IsNaN(annualRate) || annualRate < 0 || annualRate > 100 {
		return Loan{}, errors.New("the interest rate must be between 0 and 100 percent")
	}
	if months < 1 || months > 600 {
		return Loan{}, errors.New("the term must be between 1 month and 50 years")
	}
	r := annualRate / 100 / 12
	var payment float64
	if r == 0 {
		payment = float64(amount) / float64(months)
	} else {
		payment = float64(amount) * r / (1 - math.Pow(1+r, -float64(months)))
	}
	pay := int64(math.Round(payment))
	loan := Loan{Amount: amount, Rate: annualRate, Months: months, Payment: pay}
	balance := amount
	var year Year
	for m := 1; m <= months && balance > 0; m++ {
		interest := int64(math.Round(float64(balance) * r))
		principal := pay - interest
		if principal > balance || m == months {
			principal = balance
		}
		balance -= principal
		year.Paid += principal + interest
		year.Interest += interest
		year.Principal += principal
		loan.Total += principal + interest
		loan.Interest += interest
		if m%12 == 0 || m == months || balance == 0 {
			year.Year = (m + 11) / 12
			year.Balance = balance
			loan.Schedule = append(loan.Schedule, year)
			year = Year{}
		}
	}
	return loan, nil
}

// ParseAmount reads "200000", "200,000", "200 000" or "15000.50" into cents.
func ParseAmount(s string) (int64, error) {
	clean := strings.NewReplacer(",", "", " ", "", "_", "", "$", "", "€", "", "£", "").Replace(strings.TrimSpace(s))
	v, err := strconv.ParseFloat(clean, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not an amount", s)
	}
	return int64(math.Round(v * 100)), nil
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

func term(months int) string {
	y, m := months/12, months%12
	parts := []string{}
	if y > 0 {
		parts = append(parts, plural(y, "year"))
	}
	if m > 0 {
		parts = append(parts, plural(m, "month"))
	}
	return strings.Join(parts, " ")
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// Run is the default action: args are the command-line arguments after the program name, in is
// piped standard input (nil when there is none), out receives the result.
func Run(args []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("tool", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	amountS := fs.String("amount", "", "")
	rate := fs.Float64("rate", math.NaN(), "")
	years := fs.Float64("years", 0, "")
	months := fs.Int("months", 0, "")
	schedule := fs.Bool("schedule", false, "")
	// Accept flags after positional arguments too: "15000 6.9 5 --schedule".
	var positional []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(positional) > 3 {
		return errors.New("too many arguments: give the amount, the rate and the years")
	}
	if len(positional) > 0 {
		*amountS = positional[0]
	}
	if len(positional) > 1 {
		v, err := strconv.ParseFloat(strings.TrimSuffix(positional[1], "%"), 64)
		if err != nil {
			return fmt.Errorf("%q is not an interest rate", positional[1])
		}
		*rate = v
	}
	if len(positional) > 2 {
		v, err := strconv.ParseFloat(positional[2], 64)
		if err != nil {
			return fmt.Errorf("%q is not a number of years", positional[2])
		}
		*years = v
	}
	if *amountS == "" || math.IsNaN(*rate) || (*years == 0 && *months == 0) {
		return errors.New("give the amount, the annual interest rate and the term, e.g. --amount 200000 --rate 4.5 --years 30")
	}
	amount, err := ParseAmount(*amountS)
	if err != nil {
		return err
	}
	n := *months
	if n == 0 {
		n = int(math.Round(*years * 12))
	}
	loan, err := Calculate(amount, *rate, n)
	if err != nil {
		return err
	}
	row := func(label, value string) { fmt.Fprintf(out, "%-18s%s\n", label, value) }
	row("Loan amount:", FormatCents(loan.Amount))
	row("Interest rate:", strconv.FormatFloat(loan.Rate, 'f', -1, 64)+"% a year")
	row("Term:", fmt.Sprintf("%s (%d payments)", term(loan.Months), loan.Months))
	row("Monthly payment:", FormatCents(loan.Payment))
	row("Total paid:", FormatCents(loan.Total))
	row("Total interest:", FormatCents(loan.Interest))
	if *schedule {
		fmt.Fprintf(out, "\n%4s %15s %15s %15s %15s\n", "Year", "Paid", "Interest", "Principal", "Balance")
		for _, y := range loan.Schedule {
			fmt.Fprintf(out, "%4d %15s %15s %15s %15s\n", y.Year, FormatCents(y.Paid), FormatCents(y.Interest), FormatCents(y.Principal), FormatCents(y.Balance))
		}
	}
	return nil
}
