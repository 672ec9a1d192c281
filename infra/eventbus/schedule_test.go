package eventbus

import (
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr    string
		want    time.Duration
		wantErr bool
	}{
		{expr: "rate(1 minute)", want: time.Minute},
		{expr: "rate(15 minutes)", want: 15 * time.Minute},
		{expr: "rate(1 hour)", want: time.Hour},
		{expr: "rate(12 hours)", want: 12 * time.Hour},
		{expr: "rate(1 day)", want: 24 * time.Hour},
		{expr: "rate(7 days)", want: 7 * 24 * time.Hour},
		{expr: "rate(1 minutes)", wantErr: true},
		{expr: "rate(5 minute)", wantErr: true},
		{expr: "rate(0 minutes)", wantErr: true},
		{expr: "rate(-5 minutes)", wantErr: true},
		{expr: "rate(5 seconds)", wantErr: true},
		{expr: "rate(5)", wantErr: true},
		{expr: "rate(five minutes)", wantErr: true},
		{expr: "every 5 minutes", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			t.Parallel()
			s, err := parseSchedule(tt.expr)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseSchedule succeeded, want an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("parseSchedule: %v", err)
			}
			start := time.Date(2026, 3, 1, 10, 7, 0, 0, time.UTC)
			if got, ok := s.next(start); !ok || got.Sub(start) != tt.want {
				t.Errorf("next(%v) = %v, %v; want %v later", start, got, ok, tt.want)
			}
		})
	}
}

func TestCronNext(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name string
		expr string
		from string
		want []string // the next firings, in order
	}{
		{name: "daily at 10:15", expr: "cron(15 10 * * ? *)", from: "2026-03-01 10:15",
			want: []string{"2026-03-02 10:15", "2026-03-03 10:15"}},
		{name: "every 15 minutes from 0", expr: "cron(0/15 * * * ? *)", from: "2026-03-01 10:07",
			want: []string{"2026-03-01 10:15", "2026-03-01 10:30", "2026-03-01 10:45", "2026-03-01 11:00"}},
		{name: "star with increment", expr: "cron(*/20 8 * * ? *)", from: "2026-03-01 08:41",
			want: []string{"2026-03-02 08:00", "2026-03-02 08:20"}},
		{name: "weekdays 18:00 (AWS example)", expr: "cron(0 18 ? * MON-FRI *)", from: "2026-03-06 18:00", // a Friday
			want: []string{"2026-03-09 18:00", "2026-03-10 18:00"}},
		{name: "first of the month 8:00 (AWS example)", expr: "cron(0 8 1 * ? *)", from: "2026-01-15 00:00",
			want: []string{"2026-02-01 08:00", "2026-03-01 08:00"}},
		{name: "numeric weekdays, 1 is Sunday", expr: "cron(0 9 ? * 1,7 *)", from: "2026-03-02 00:00", // a Monday
			want: []string{"2026-03-07 09:00", "2026-03-08 09:00", "2026-03-14 09:00"}},
		{name: "every 10 minutes on weekdays 8 to 17 (AWS example)", expr: "cron(0/10 8-17 ? * MON-FRI *)", from: "2026-03-06 17:45",
			want: []string{"2026-03-06 17:50", "2026-03-09 08:00"}},
		{name: "last day of the month", expr: "cron(0 0 L * ? *)", from: "2028-02-01 00:00",
			want: []string{"2028-02-29 00:00", "2028-03-31 00:00", "2028-04-30 00:00"}},
		{name: "last weekday of the month", expr: "cron(0 12 LW * ? *)", from: "2026-05-01 00:00", // 31 May 2026 is a Sunday
			want: []string{"2026-05-29 12:00", "2026-06-30 12:00"}},
		{name: "weekday nearest the 1st stays in the month", expr: "cron(0 12 1W * ? *)", from: "2026-07-31 00:00", // 1 Aug 2026 is a Saturday
			want: []string{"2026-08-03 12:00", "2026-09-01 12:00"}},
		{name: "weekday nearest the 15th", expr: "cron(0 12 15W * ? *)", from: "2026-03-01 00:00", // 15 Mar 2026 is a Sunday
			want: []string{"2026-03-16 12:00", "2026-04-15 12:00"}},
		{name: "second Tuesday", expr: "cron(30 6 ? * 3#2 *)", from: "2026-03-01 00:00",
			want: []string{"2026-03-10 06:30", "2026-04-14 06:30"}},
		{name: "last Friday", expr: "cron(0 17 ? * 6L *)", from: "2026-03-01 00:00",
			want: []string{"2026-03-27 17:00", "2026-04-24 17:00"}},
		{name: "month names and a year", expr: "cron(0 0 1 JAN,JUL ? 2027)", from: "2026-03-01 00:00",
			want: []string{"2027-01-01 00:00", "2027-07-01 00:00"}},
		{name: "leap day only", expr: "cron(0 0 29 2 ? *)", from: "2026-03-01 00:00",
			want: []string{"2028-02-29 00:00", "2032-02-29 00:00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := parseSchedule(tt.expr)
			if err != nil {
				t.Fatalf("parseSchedule(%q): %v", tt.expr, err)
			}
			cur := at(tt.from)
			for i, w := range tt.want {
				got, ok := s.next(cur)
				if !ok || !got.Equal(at(w)) {
					t.Fatalf("firing %d after %v = %v (ok %v), want %s", i+1, cur, got, ok, w)
				}
				cur = got
			}
		})
	}
}

func TestCronNeverAgain(t *testing.T) {
	t.Parallel()
	s, err := parseSchedule("cron(0 0 1 1 ? 2020)")
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := s.next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); ok {
		t.Errorf("next = %v, want no further firing", got)
	}
}

func TestParseCronInvalid(t *testing.T) {
	t.Parallel()
	tests := []string{
		"cron(0 12 * * *)",         // five fields
		"cron(0 12 * * * *)",       // neither day field is ?
		"cron(0 12 ? * ? *)",       // both day fields are ?
		"cron(60 12 * * ? *)",      // minute out of range
		"cron(0 24 * * ? *)",       // hour out of range
		"cron(0 12 32 * ? *)",      // day out of range
		"cron(0 12 * 13 ? *)",      // month out of range
		"cron(0 12 ? * 8 *)",       // weekday out of range
		"cron(0 12 * * ? 1969)",    // year out of range
		"cron(0 12 10-5 * ? *)",    // backwards range
		"cron(0/0 12 * * ? *)",     // zero increment
		"cron(0 12 ? * MON#6 *)",   // no sixth Monday
		"cron(0 12 * FOO ? *)",     // unknown month name
		"cron(0 12 ? * 3#x *)",     // bad occurrence
		"cron(a b c d e f)",        // not numbers
		"cron(0 12 32W * ? *)",     // nearest weekday of no day
		"crontab(0 12 * * ? *)",    // not cron(
		"cron(0 12 * * ? *",        // unclosed
		"cron(0 12 ? * MON-FRI,L)", // five fields
	}
	for _, expr := range tests {
		t.Run(expr, func(t *testing.T) {
			t.Parallel()
			if _, err := parseSchedule(expr); err == nil {
				t.Error("parseSchedule succeeded, want an error")
			}
		})
	}
}
