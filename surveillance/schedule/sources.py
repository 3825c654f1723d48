"""Sources of the surveillance rules, quoted in every refusal message, warning and due item.

One string per rule, so the API, the admin and the tests show the same reason and a change of
guideline is one edit.
"""

SOURCE_RISK_GROUPS = (
    "CLINICAL.md §2 'Default schedule by risk group' (product choice anchored on the "
    "guideline summary 2025, ESMO 2020, ENETS and NCCN)"
)
SOURCE_FIRST_IMAGING = (
    "CLINICAL.md §2 'first follow-up': 3–12 months after surgery "
    "(guideline summary 2025; NCCN: 12 weeks to 12 months)"
)
SOURCE_LATER_IMAGING = (
    "CLINICAL.md §2 'later follow-up': every 6–12 months "
    "(guideline summary 2025; ESMO 2020: 6–12 months for G1/G2, shorter for G3)"
)
SOURCE_IMAGING_CAP = (
    "CLINICAL.md §2 'maximum gap between imaging': never beyond 12 months between imaging "
    "(guideline summary 2025; hard cap, stricter than NCCN's 12–24 months)"
)
SOURCE_DURATION = (
    "CLINICAL.md §2 'duration': default 10 years, 5 years to lifelong "
    "(NCCN: up to 10 years; ENETS: long-term, even lifelong for small-intestinal NET)"
)
SOURCE_DUE_WINDOW = (
    "CLINICAL.md §2 mechanics: due from 30 days before the date, overdue after it (product choice)"
)
SOURCE_RESPONSE_IMAGING = (
    "CLINICAL.md §2 mechanics: on an active line, response imaging about 3 months after the "
    "line starts, then every 3–6 months"
)
SOURCE_VISIT = (
    "CLINICAL.md §2 'each visit': history and examination with each imaging item "
    "(guideline summary 2025; NCCN)"
)
SOURCE_CGA = (
    "CLINICAL.md §2 'chromogranin A': only if elevated before surgery (guideline summary 2025)"
)
SOURCE_SYMPTOM_CHECK = (
    "CLINICAL.md §2 risk table 'symptom check' and §5 (product choice: no guideline fixes "
    "the frequency of patient-reported checks)"
)
SOURCE_SSA_INJECTION = (
    "CLINICAL.md §3: somatostatin analogue every 28 days, window ±7 days "
    "(PROMID: octreotide LAR 30 mg; CLARINET: lanreotide 120 mg)"
)
SOURCE_SURGERY_FLOOR = "CLINICAL.md §6: nothing is dated before the surgery that opened the course"
SOURCE_SYMPTOM_SCORING = "CLINICAL.md §5 'The symptom check', scoring"
SOURCE_TELESTAR = (
    "TELESTAR trial: 4 or more bowel movements a day = uncontrolled carcinoid diarrhoea"
)
SOURCE_IMAGING_MODALITY = (
    "CLINICAL.md §2 'imaging modality': multiphase CT or MRI (guideline summary 2025; liver MRI "
    "with diffusion weighting is the more sensitive for liver metastases)"
)
SOURCE_FUNCTIONAL_IMAGING = (
    "CLINICAL.md §2 'functional imaging': Octreoscan, SSTR-PET and FDG-PET are not for routine "
    "surveillance, only for suspected recurrence (guideline summary 2025; SSTR-PET also decides "
    "PRRT eligibility)"
)
SOURCE_CGA_PPI = (
    "CLINICAL.md §2 'chromogranin A': proton-pump inhibitors (also renal failure, atrophic "
    "gastritis, heart failure) raise CgA falsely; use the same assay over time"
)
SOURCE_LAB_UNITS = "CLINICAL.md §6: lab values negative or with a unit not allowed are refused"
SOURCE_LAB_CEILING = (
    "Product choice: plausibility ceilings far above any value a patient can have, so that a "
    "misplaced decimal point or a wrong unit is refused (CLINICAL.md §6 'absurd values')"
)
