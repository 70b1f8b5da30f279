package tool

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFormat(t *testing.T) {
	in := []byte(`{"b":1,"a":[1,2.50,{"c":null}],"html":"<b>&"}`)
	got, err := Format(in, Options{Indent: "  "})
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"b\": 1,\n  \"a\": [\n    1,\n    2.50,\n    {\n      \"c\": null\n    }\n  ],\n  \"html\": \"<b>&\"\n}\n"
	if string(got) != want {
		t.Errorf("pretty:\n%s\nwant:\n%s", got, want)
	}
	got, _ = Format([]byte("{ \"b\" : 1 ,\n \"a\" : [ 1 , 2 ] }"), Options{Compact: true})
	if string(got) != `{"b":1,"a":[1,2]}`+"\n" {
		t.Errorf("compact: %q", got)
	}
	got, _ = Format([]byte(`{"b":1,"a":{"z":true,"y":12345678901234567890}}`), Options{Compact: true, SortKeys: true})
	if string(got) != `{"a":{"y":12345678901234567890,"z":true},"b":1}`+"\n" {
		t.Errorf("sorted: %q", got)
	}
}

func TestValidateErrors(t *testing.T) {
	cases := map[string]string{
		"{\n  \"a\": 1,\n  }": "line 3, column 3",
		`{"a": tru}`:          "line 1, column 10",
		`[1, 2`:               "ends too early",
		`{"a":1} {"b":2}`:     "line 1, column 9: unexpected data",
		"   ":                 "empty",
		"{\"a\":\n1}\n\n  x":  "line 4, column 3",
	}
	for in, want := range cases {
		err := Validate([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate(%q) = %v, want %q", in, err, want)
		}
	}
	if err := Validate([]byte(` {"ok": [true, false, null, "\u00e9"]} `)); err != nil {
		t.Errorf("valid input: %v", err)
	}
}

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := Run([]string{"--indent", "4", `{"b":1,"a":[1,2]}`}, nil, &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "{\n    \"b\": 1,\n    \"a\": [\n        1,\n        2\n    ]\n}\n" {
		t.Errorf("got %q", out.String())
	}
	file := filepath.Join(t.TempDir(), "data.json")
	if err := os.WriteFile(file, []byte(`[3,1]`), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := Run([]string{"--check", file}, nil, &out); err != nil || out.String() != "valid JSON\n" {
		t.Errorf("--check file: %v %q", err, out.String())
	}
	out.Reset()
	if err := Run([]string{"--compact"}, strings.NewReader("[ 1,\n 2 ]\n"), &out); err != nil || out.String() != "[1,2]\n" {
		t.Errorf("stdin: %v %q", err, out.String())
	}
	if err := Run([]string{`{"a":}`}, nil, &out); err == nil {
		t.Error("invalid JSON should fail")
	}
}
