// Package tool is the BMI calculator.
package tool

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Summary is one line shown in --help next to the default action.
const Summary = "calculate the body mass index (BMI)"

// Usage describes the default action's options and examples ({name} becomes the binary name).
const Usage = `
Options:
  --weight W     body weight (kg, or lb with --imperial)
  --height H     height (cm, or inches or feet'inches with --imperial)
  --imperial     use pounds and inches

The weight and height can also be given in that order as arguments.
BMI is a screening measure for adults, not a diagnosis.

Examples:
  {name} --weight 70 --height 175
  {name} 70 175
  {name} --imperial --weight 154 --height 5'9
`

// Result is a BMI with its category and the healthy weight range for the height (in the input unit).
type Result struct {
	BMI        float64
	Category   string
	HealthyMin float64
	HealthyMax float64
}

const lbPerKg = 2.2046226218

// Category returns the WHO adult weight category of a BMI.
func Category(bmi float64) string {
	switch {
	case bmi < 18.5:
		return "Underweight"
	case bmi < 25:
		return "Healthy weight"
	case bmi < 30:
		return "Overweight"
	}
	return "Obesity"
}

// Calculate works out the BMI from kilograms and centimetres.
func Calculate(kg, cm float64) (Result, error) {
	if math.IsNaN(kg) || kg < 2 || kg > 650 {
		return Result{}, errors.New("the weight must be between 2 and 650 kg (4 and 1400 lb)")
	}
	if math.IsNaN(cm) || cm < 40 || cm > 280 {
		return Result{}, errors.New("the height must be between 40 and 280 cm (16 and 110 in)")
	}
	m := cm / 100
	bmi := kg / (m * m)
	return Result{BMI: bmi, Category: Category(bmi), HealthyMin: 18.5 * m * m, HealthyMax: 24.9 * m * m}, nil
}

var feetRe = regexp.MustCompile(`^(\d+(?:\.\d+)?)\s*(?:'|ft|feet)\s*(?:(\d+(?:\.\d+)?)\s*(?:"|in|inches)?)?$`)

// ParseImperialHeight reads inches ("69") or feet and inches ("5'9", "5ft 9in") into inches.
func ParseImperialHeight(s string) (float64, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if m := feetRe.FindStringSubmatch(s); m != nil {
		ft, _ := strconv.ParseFloat(m[1], 64)
		in := 0.0
		if m[2] != "" {
			in, _ = strconv.ParseFloat(m[2], 64)
		}
		return ft*12 + in, nil
	}
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSuffix(s, "in"), "\""), 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a height: use inches (69) or feet'inches (5'9)", s)
	}
	return v, nil
}

func round1(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', 1, 64) }

// Run is the default action: args are the command-line arguments after the program name, in is
// piped standard input (nil when there is none), out receives the result.
func Run(args []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("tool", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	weightS := fs.String("weight", "", "")
	heightS := fs.String("height", "", "")
	imperial := fs.Bool("imperial", false, "")
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
	if len(positional) > 2 {
		return errors.New("too many arguments: give the weight and the height")
	}
	if len(positional) > 0 {
		*weightS = positional[0]
	}
	if len(positional) > 1 {
		*heightS = positional[1]
	}
	if *weightS == "" || *heightS == "" {
		return errors.New("give the weight and the height, e.g. --weight 70 --height 175")
	}
	weight, err := strconv.ParseFloat(strings.Replace(*weightS, ",", ".", 1), 64)
	if err != nil {
		return fmt.Errorf("%q is not a weight", *weightS)
	}
	kg, cm, unit := weight, 0.0, "kg"
	var heightLabel string
	if *imperial {
		inches, err := ParseImperialHeight(*heightS)
		if err != nil {
			return err
		}
		kg, cm, unit = weight/lbPerKg, inches*2.54, "lb"
		heightLabel = fmt.Sprintf("%d'%d\"", int(inches)/12, int(math.Round(inches))%12)
	} else {
		cm, err = strconv.ParseFloat(strings.Replace(*heightS, ",", ".", 1), 64)
		if err != nil {
			return fmt.Errorf("%q is not a height in centimetres", *heightS)
		}
		heightLabel = strconv.FormatFloat(cm, 'f', -1, 64) + " cm"
	}
	r, err := Calculate(kg, cm)
	if err != nil {
		return err
	}
	lo, hi := r.HealthyMin, r.HealthyMax
	if *imperial {
		lo, hi = lo*lbPerKg, hi*lbPerKg
	}
	fmt.Fprintf(out, "%-16s%s\n", "BMI:", round1(r.BMI))
	fmt.Fprintf(out, "%-16s%s\n", "Category:", r.Category)
	fmt.Fprintf(out, "%-16s%s-%s %s for %s\n", "Healthy range:", round1(lo), round1(hi), unit, heightLabel)
	return nil
}
