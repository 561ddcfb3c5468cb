package conformance

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// WriteTable writes the report for a terminal: failures in full, then a count.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RESULT\tLEVEL\tCASE\tCLAUSE")
	for _, res := range r.Results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", map[string]string{"pass": "ok", "fail": "FAIL", "skip": "skip"}[res.Status], res.Level, res.ID, res.Clause)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, res := range r.Results {
		if res.Status != "pass" {
			fmt.Fprintf(w, "\n%s %s:\n    %s\n", res.Status, res.ID, res.Message)
		}
	}
	_, err := fmt.Fprintf(w, "\n%s: %d passed, %d failed, %d skipped\n", r.Server, r.Passed, r.Failed, r.Skipped)
	return err
}

// WriteJSON writes the report as one JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// JUnit XML, the shape CI systems read.
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Time      float64     `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      float64       `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the report as JUnit XML: one test case per conformance case, with
// the level and clause in its class name.
func (r *Report) WriteJUnit(w io.Writer) error {
	s := junitSuite{Name: "syncstorage-conformance " + r.Server, Tests: len(r.Results), Failures: r.Failed, Skipped: r.Skipped,
		Timestamp: r.Started.UTC().Format(time.RFC3339)}
	for _, res := range r.Results {
		c := junitCase{Name: res.ID, Classname: string(res.Level) + " " + res.Clause, Time: res.Duration.Seconds()}
		s.Time += c.Time
		switch res.Status {
		case "fail":
			c.Failure = &junitMessage{Message: res.Message, Text: res.Message}
		case "skip":
			c.Skipped = &junitMessage{Message: res.Message}
		}
		s.Cases = append(s.Cases, c)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(junitSuites{Suites: []junitSuite{s}}); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
