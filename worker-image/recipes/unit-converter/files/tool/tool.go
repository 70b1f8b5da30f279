// Package tool is the unit converter: length, weight, temperature, volume and speed.
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
const Summary = "convert a value between units"

// Usage describes the default action's options and examples ({name} becomes the binary name).
const Usage = `
Options:
  --list   list the supported units

Input is a value, its unit and the unit to convert to.

Examples:
  {name} 10 km to mi
  {name} 100 c f
  {name} 8 fl oz in ml
  {name} 70kg to lb
`

// Unit is one unit of measurement. Linear units convert with Factor (value in the category's
// base unit = value * Factor); temperatures convert through Celsius.
type Unit struct {
	Symbol   string
	Name     string
	Category string
	Factor   float64
	Aliases  []string
}

// Units lists every supported unit, grouped by category.
var Units = []Unit{
	{"mm", "millimetre", "length", 0.001, []string{"millimeter", "millimeters", "millimetres"}},
	{"cm", "centimetre", "length", 0.01, []string{"centimeter", "centimeters", "centimetres"}},
	{"m", "metre", "length", 1, []string{"meter", "meters", "metres"}},
	{"km", "kilometre", "length", 1000, []string{"kilometer", "kilometers", "kilometres", "kms"}},
	{"in", "inch", "length", 0.0254, []string{"inches", "\""}},
	{"ft", "foot", "length", 0.3048, []string{"feet", "'"}},
	{"yd", "yard", "length", 0.9144, []string{"yards", "yds"}},
	{"mi", "mile", "length", 1609.344, []string{"miles"}},
	{"nmi", "nautical mile", "length", 1852, []string{"nautical miles"}},
	{"mg", "milligram", "weight", 1e-6, []string{"milligrams"}},
	{"g", "gram", "weight", 0.001, []string{"grams", "gr"}},
	{"kg", "kilogram", "weight", 1, []string{"kilograms", "kilo", "kilos", "kgs"}},
	{"t", "tonne", "weight", 1000, []string{"tonnes", "metric ton", "metric tons"}},
	{"oz", "ounce", "weight", 0.028349523125, []string{"ounces"}},
	{"lb", "pound", "weight", 0.45359237, []string{"pounds", "lbs"}},
	{"st", "stone", "weight", 6.35029318, []string{"stones"}},
	{"°C", "Celsius", "temperature", 0, []string{"c", "celsius", "degc", "centigrade"}},
	{"°F", "Fahrenheit", "temperature", 0, []string{"f", "fahrenheit", "degf"}},
	{"K", "kelvin", "temperature", 0, []string{"k", "kelvins"}},
	{"ml", "millilitre", "volume", 0.001, []string{"milliliter", "milliliters", "millilitres"}},
	{"cl", "centilitre", "volume", 0.01, []string{"centiliter", "centiliters", "centilitres"}},
	{"l", "litre", "volume", 1, []string{"liter", "liters", "litres"}},
	{"m3", "cubic metre", "volume", 1000, []string{"m³", "cubic meter", "cubic meters", "cubic metres"}},
	{"tsp", "teaspoon", "volume", 0.00492892159375, []string{"teaspoons"}},
	{"tbsp", "tablespoon", "volume", 0.01478676478125, []string{"tablespoons"}},
	{"fl oz", "US fluid ounce", "volume", 0.0295735295625, []string{"floz", "fluid ounce", "fluid ounces"}},
	{"cup", "US cup", "volume", 0.2365882365, []string{"cups"}},
	{"pt", "US pint", "volume", 0.473176473, []string{"pint", "pints"}},
	{"qt", "US quart", "volume", 0.946352946, []string{"quart", "quarts"}},
	{"gal", "US gallon", "volume", 3.785411784, []string{"gallon", "gallons"}},
	{"m/s", "metres per second", "speed", 1, []string{"mps", "meters per second", "metres per second"}},
	{"km/h", "kilometres per hour", "speed", 1 / 3.6, []string{"kmh", "kph", "kmph", "kilometers per hour", "kilometres per hour"}},
	{"mph", "miles per hour", "speed", 0.44704, []string{"miles per hour", "mi/h"}},
	{"kn", "knot", "speed", 1852.0 / 3600, []string{"knot", "knots", "kt", "kts"}},
	{"ft/s", "feet per second", "speed", 0.3048, []string{"fps", "feet per second"}},
}

var lookup = func() map[string]*Unit {
	m := map[string]*Unit{}
	for i := range Units {
		u := &Units[i]
		for _, k := range append([]string{u.Symbol, u.Name}, u.Aliases...) {
			m[normalize(k)] = u
		}
	}
	return m
}()

func normalize(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "°")
	s = strings.TrimPrefix(s, "degrees ")
	s = strings.TrimPrefix(s, "degree ")
	return strings.Join(strings.Fields(s), " ")
}

// FindUnit looks a unit up by symbol, name or alias (case-insensitive).
func FindUnit(s string) (*Unit, bool) {
	u, ok := lookup[normalize(s)]
	return u, ok
}

// Convert converts value from one unit to another of the same category.
func Convert(value float64, from, to *Unit) (float64, error) {
	if from.Category != to.Category {
		return 0, fmt.Errorf("cannot convert %s (%s) to %s (%s)", from.Symbol, from.Category, to.Symbol, to.Category)
	}
	if from.Category != "temperature" {
		return value * from.Factor / to.Factor, nil
	}
	var c float64
	switch from.Symbol {
	case "°C":
		c = value
	case "°F":
		c = (value - 32) * 5 / 9
	case "K":
		c = value - 273.15
	}
	if c < -273.15-1e-9 {
		return 0, errors.New("that temperature is below absolute zero")
	}
	switch to.Symbol {
	case "°F":
		return c*9/5 + 32, nil
	case "K":
		return c + 273.15, nil
	}
	return c, nil
}

// FormatNumber rounds to six significant digits and prints without an exponent.
func FormatNumber(v float64) string {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return "0"
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 6, 64), 64)
	if r == 0 {
		return "0"
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}

var exprRe = regexp.MustCompile(`^\s*(-?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][-+]?\d+)?)\s*(.+)$`)

// Parse reads "10 km to mi", "10 km mi", "100 c in f" or "8 fl oz -> ml".
func Parse(expr string) (float64, *Unit, *Unit, error) {
	m := exprRe.FindStringSubmatch(expr)
	if m == nil {
		return 0, nil, nil, errors.New("start with a number, for example: 10 km to mi")
	}
	value, err := strconv.ParseFloat(strings.Replace(m[1], ",", ".", 1), 64)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%q is not a number", m[1])
	}
	rest := strings.Join(strings.Fields(m[2]), " ")
	for _, sep := range []string{" to ", " into ", " -> ", "->", " in ", " as ", " = "} {
		for i := 0; i < len(rest); {
			j := strings.Index(rest[i:], sep)
			if j < 0 {
				break
			}
			j += i
			from, okFrom := FindUnit(rest[:j])
			to, okTo := FindUnit(rest[j+len(sep):])
			if okFrom && okTo {
				return value, from, to, nil
			}
			i = j + 1
		}
	}
	words := strings.Fields(rest)
	for i := 1; i < len(words); i++ {
		from, okFrom := FindUnit(strings.Join(words[:i], " "))
		to, okTo := FindUnit(strings.Join(words[i:], " "))
		if okFrom && okTo {
			return value, from, to, nil
		}
	}
	for _, w := range words {
		if _, ok := FindUnit(w); !ok && w != "to" && w != "in" && w != "into" {
			return 0, nil, nil, fmt.Errorf("unknown unit %q (see --list)", w)
		}
	}
	return 0, nil, nil, errors.New("give a unit to convert from and a unit to convert to, for example: 10 km to mi")
}

// Run is the default action: args are the command-line arguments after the program name, in is
// piped standard input (nil when there is none), out receives the result.
func Run(args []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("tool", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	list := fs.Bool("list", false, "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *list {
		category := ""
		for _, u := range Units {
			if u.Category != category {
				category = u.Category
				fmt.Fprintf(out, "%s:\n", strings.ToUpper(category[:1])+category[1:])
			}
			fmt.Fprintf(out, "  %-6s %s\n", u.Symbol, u.Name)
		}
		return nil
	}
	expr := strings.Join(fs.Args(), " ")
	if expr == "" && in != nil {
		data, err := io.ReadAll(io.LimitReader(in, 4096))
		if err != nil {
			return err
		}
		expr = strings.TrimSpace(string(data))
	}
	if expr == "" {
		return errors.New("give a conversion, for example: 10 km to mi")
	}
	value, from, to, err := Parse(expr)
	if err != nil {
		return err
	}
	result, err := Convert(value, from, to)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s %s = %s %s\n", FormatNumber(value), from.Symbol, FormatNumber(result), to.Symbol)
	return nil
}
