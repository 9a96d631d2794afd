"""The statistical analysis plan (../shared/domain/SAP.md) as pure functions of data frames: no
Django, no database. `outcomes.analysis_runs` builds the frames from the records and stores what
these return; `outcomes.report` turns the stored numbers into the report's tables.

Modules: `common` (schedule order, Holm, effect sizes), `sets` (analysis sets and every
exclusion), `primary` (response at 24 h after infusion 1, sensitivity), `longitudinal` (change
over period 1), `crossover` (period 2's comparable part), `survival` (relapse), `mrs` (key
questions 2 and 3). Every test statistic and interval comes from scipy or statsmodels where they
provide one; the tests check each against another implementation (lifelines, hand sums,
published worked examples)."""
