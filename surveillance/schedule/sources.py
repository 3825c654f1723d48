"""Sources of the surveillance rules, quoted in every refusal message, warning and due item.

One string per rule, so the API, the admin and the tests show the same reason and a change of
guideline is one edit.
"""

SOURCE_RISK_GROUPS = (
    "docs/clinical-rules.md#risk-groups (product choice anchored on the "
    "guideline summary 2025, ESMO 2020, ENETS and NCCN)"
)
SOURCE_FIRST_IMAGING = (
    "docs/clinical-rules.md#default-schedules: 3–12 months after surgery "
    "(guideline summary 2025; NCCN: 12 weeks to 12 months)"
)
SOURCE_LATER_IMAGING = (
    "docs/clinical-rules.md#default-schedules: every 6–12 months "
    "(guideline summary 2025; ESMO 2020: 6–12 months for G1/G2, shorter for G3)"
)
SOURCE_IMAGING_CAP = (
    "docs/clinical-rules.md#allowed-ranges-and-the-12-month-cap: never beyond 12 months between "
    "imaging (guideline summary 2025; hard cap, stricter than NCCN's 12–24 months)"
)
SOURCE_DURATION = (
    "docs/clinical-rules.md#duration: default 10 years, 5 years to lifelong "
    "(NCCN: up to 10 years; ENETS: long-term, even lifelong for small-intestinal NET)"
)
SOURCE_DUE_WINDOW = (
    "docs/clinical-rules.md#schedule-mechanics: due from 30 days before the date, overdue after it "
    "(product choice)"
)
SOURCE_RESPONSE_IMAGING = (
    "docs/clinical-rules.md#schedule-mechanics: on an active line, response imaging about 3 months "
    "after the line starts, then every 3–6 months"
)
SOURCE_VISIT = (
    "docs/clinical-rules.md#visits-and-markers: history and examination with each imaging item "
    "(guideline summary 2025; NCCN)"
)
SOURCE_CGA = (
    "docs/clinical-rules.md#visits-and-markers: only if elevated before surgery (guideline summary "
    "2025)"
)
SOURCE_SYMPTOM_CHECK = (
    "docs/clinical-rules.md#default-schedules and docs/clinical-rules.md#symptom-check (product "
    "choice: no guideline fixes the frequency of patient-reported checks)"
)
SOURCE_SSA_INJECTION = (
    "docs/clinical-rules.md#somatostatin-analogues: somatostatin analogue every 28 days, window ±7 "
    "days (PROMID: octreotide LAR 30 mg; CLARINET: lanreotide 120 mg)"
)
SOURCE_SURGERY_FLOOR = (
    "docs/clinical-rules.md#dates: nothing is dated before the surgery that opened the course"
)
SOURCE_SYMPTOM_SCORING = "docs/clinical-rules.md#scoring-thresholds"
SOURCE_TELESTAR = (
    "TELESTAR trial: 4 or more bowel movements a day = uncontrolled carcinoid diarrhoea"
)
SOURCE_IMAGING_MODALITY = (
    "docs/clinical-rules.md#visits-and-markers: multiphase CT or MRI (guideline summary 2025; "
    "liver MRI with diffusion weighting is the more sensitive for liver metastases)"
)
SOURCE_FUNCTIONAL_IMAGING = (
    "docs/clinical-rules.md#visits-and-markers: Octreoscan, SSTR-PET and FDG-PET are not for "
    "routine surveillance, only for suspected recurrence (guideline summary 2025; SSTR-PET also "
    "decides PRRT eligibility)"
)
SOURCE_CGA_PPI = (
    "docs/clinical-rules.md#visits-and-markers: proton-pump inhibitors (also renal failure, "
    "atrophic gastritis, heart failure) raise CgA falsely; use the same assay over time"
)
SOURCE_LAB_UNITS = (
    "docs/clinical-rules.md#lab-values: lab values negative or with a unit not allowed are refused"
)
SOURCE_LAB_CEILING = (
    "Product choice: plausibility ceilings far above any value a patient can have, so that a "
    "misplaced decimal point or a wrong unit is refused (docs/clinical-rules.md#lab-values)"
)

# Version 2 (docs/clinical-rules.md#version-2-surveillance-and-monitoring).
SOURCE_RESTAGING = (
    "docs/clinical-rules.md#version-2-surveillance-and-monitoring: 3 months after the event, then every 3–6 "
    "months (3 in the first year, then 6); NEC every 3 months (ESMO 2020)"
)
SOURCE_SYMPTOMS_BRING_FORWARD = (
    "docs/clinical-rules.md#version-2-surveillance-and-monitoring: a positive symptom check brings "
    "imaging forward to within 4 weeks and makes the markers due now (new symptoms are a red flag)"
)
SOURCE_U5HIAA = (
    "docs/clinical-rules.md#version-2-surveillance-and-monitoring: 24-hour urinary 5-HIAA with each imaging "
    "study when the tumour is functional or carcinoid syndrome is recorded (NCCN; ENETS)"
)
SOURCE_CARCINOID_HEART = (
    "docs/clinical-rules.md#version-2-surveillance-and-monitoring: with carcinoid syndrome, NT-proBNP yearly; "
    "echocardiography at baseline, when NT-proBNP > 260 pg/mL, 5-HIAA > 300 µmol/24 h or new heart "
    "symptoms, every 3–6 months with carcinoid heart disease (expert statement, JACC 2017)"
)
SOURCE_VITAMINS = (
    "docs/clinical-rules.md#version-2-surveillance-and-monitoring: vitamin B12 yearly after ileal or "
    "ileocecal resection or right hemicolectomy, and on SSA; vitamin D yearly on SSA (octreotide "
    "label: monitor vitamin B12; deficiency series in GEP-NET)"
)
SOURCE_PRRT_LABS = (
    "docs/clinical-rules.md#version-2-treatment-lines: blood counts, creatinine clearance and liver function "
    "within 2–4 weeks before each cycle; blood counts yearly after PRRT (Lutathera label; "
    "NETTER-1)"
)
SOURCE_LINE_MONITORING = (
    "docs/clinical-rules.md#monitoring-on-a-line: everolimus: glucose, lipids and blood counts "
    "before and every 3 months (RADIANT-4, label); chemotherapy: blood counts each cycle"
)
SOURCE_SSA_INTERVAL = (
    "docs/clinical-rules.md#somatostatin-analogues: the injection follows the line's prescribed "
    "interval, window ±25 % of it and at most 7 days; nothing while held; beside PRRT, 4–24 h "
    "after each cycle (PROMID; CLARINET; CLARINET FORTE; Lutathera label)"
)
