# Chinese for WTForms' own messages where its catalogue says something else or in programmers' words
# (used first by gi_trace.i18n's form messages; WTForms' catalogue gives the rest).
