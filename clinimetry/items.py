"""Item names and one-line guidance per score, in our own words (English, Spanish).

HAM-D is in the public domain; these lines are short paraphrases, not the published anchors. The
MADRS wording has a copyright holder: only item names and our own guidance appear here. The
Spanish text is loaded into the translation catalogue (see tests/clinimetry/test_items.py).
"""

from __future__ import annotations


def gettext_noop(text: str) -> str:
    """Marks English text for the translation catalogue (makemessages) without importing Django."""
    return text


# item code -> (name en, name es, {score: (guidance en, guidance es)})
HDRS17_ITEMS: dict[str, tuple[str, str, dict[int, tuple[str, str]]]] = {
    "1": (
        gettext_noop("Depressed mood"),
        "Ánimo deprimido",
        {
            0: (gettext_noop("Absent"), "Ausente"),
            1: (gettext_noop("Only on questioning"), "Solo al preguntar"),
            2: (gettext_noop("Reported spontaneously"), "Lo refiere espontáneamente"),
            3: (
                gettext_noop("Shown without words (face, posture, voice, tearfulness)"),
                "Se nota sin palabras (rostro, postura, voz, llanto)",
            ),
            4: (
                gettext_noop("Virtually only this feeling, in words and behaviour"),
                "Prácticamente solo ese sentimiento, en palabras y conducta",
            ),
        },
    ),
    "2": (
        gettext_noop("Feelings of guilt"),
        "Sentimientos de culpa",
        {
            0: (gettext_noop("Absent"), "Ausente"),
            1: (
                gettext_noop("Self-reproach, feels they let people down"),
                "Se reprocha, siente que ha fallado a otros",
            ),
            2: (
                gettext_noop("Ideas of guilt, ruminates over past errors"),
                "Ideas de culpa, rumia errores pasados",
            ),
            3: (gettext_noop("Present illness felt as a punishment"), "Vive la enfermedad como un castigo"),
            4: (
                gettext_noop("Accusatory voices or threatening visions"),
                "Voces acusatorias o visiones amenazantes",
            ),
        },
    ),
    "3": (
        gettext_noop("Suicide"),
        "Suicidio",
        {
            0: (gettext_noop("Absent"), "Ausente"),
            1: (gettext_noop("Feels life is not worth living"), "Siente que la vida no vale la pena"),
            2: (
                gettext_noop("Wishes to be dead, thoughts of own death"),
                "Desea estar muerto, piensa en su muerte",
            ),
            3: (gettext_noop("Suicidal ideas or gestures"), "Ideas o gestos suicidas"),
            4: (gettext_noop("Suicide attempt"), "Intento de suicidio"),
        },
    ),
    "4": (
        gettext_noop("Insomnia: early"),
        "Insomnio inicial",
        {
            0: (gettext_noop("No difficulty falling asleep"), "Sin dificultad para dormirse"),
            1: (
                gettext_noop("Occasionally more than 30 min to fall asleep"),
                "A veces tarda más de 30 min en dormirse",
            ),
            2: (gettext_noop("Nightly difficulty falling asleep"), "Dificultad para dormirse cada noche"),
        },
    ),
    "5": (
        gettext_noop("Insomnia: middle"),
        "Insomnio intermedio",
        {
            0: (gettext_noop("No difficulty"), "Sin dificultad"),
            1: (gettext_noop("Restless or disturbed during the night"), "Inquieto o con sueño interrumpido"),
            2: (
                gettext_noop("Wakes and gets out of bed during the night"),
                "Despierta y se levanta durante la noche",
            ),
        },
    ),
    "6": (
        gettext_noop("Insomnia: late"),
        "Insomnio tardío",
        {
            0: (gettext_noop("No difficulty"), "Sin dificultad"),
            1: (
                gettext_noop("Wakes early but falls asleep again"),
                "Despierta temprano pero vuelve a dormirse",
            ),
            2: (gettext_noop("Cannot sleep again once up"), "No puede volver a dormirse"),
        },
    ),
    "7": (
        gettext_noop("Work and activities"),
        "Trabajo y actividades",
        {
            0: (gettext_noop("No difficulty"), "Sin dificultad"),
            1: (
                gettext_noop("Thoughts of incapacity, fatigue in activities"),
                "Se siente incapaz, fatiga en sus actividades",
            ),
            2: (
                gettext_noop("Loss of interest, needs to push self"),
                "Pérdida de interés, tiene que obligarse",
            ),
            3: (
                gettext_noop("Less time in activities or lower productivity"),
                "Menos tiempo en actividades o menor rendimiento",
            ),
            4: (gettext_noop("Stopped working because of the illness"), "Dejó de trabajar por la enfermedad"),
        },
    ),
    "8": (
        gettext_noop("Retardation"),
        "Inhibición psicomotora",
        {
            0: (gettext_noop("Normal speech and thought"), "Habla y pensamiento normales"),
            1: (gettext_noop("Slight slowing at interview"), "Ligera lentitud en la entrevista"),
            2: (gettext_noop("Obvious slowing at interview"), "Lentitud evidente en la entrevista"),
            3: (gettext_noop("Interview difficult"), "Entrevista difícil"),
            4: (gettext_noop("Complete stupor"), "Estupor completo"),
        },
    ),
    "9": (
        gettext_noop("Agitation"),
        "Agitación",
        {
            0: (gettext_noop("None"), "Ninguna"),
            1: (gettext_noop("Fidgetiness"), "Inquietud"),
            2: (gettext_noop("Playing with hands, hair"), "Juega con manos, cabello"),
            3: (gettext_noop("Moving about, cannot sit still"), "Se mueve, no puede estar sentado"),
            4: (
                gettext_noop("Hand wringing, nail biting, hair pulling"),
                "Se retuerce las manos, se muerde las uñas, se jala el cabello",
            ),
        },
    ),
    "10": (
        gettext_noop("Anxiety: psychic"),
        "Ansiedad psíquica",
        {
            0: (gettext_noop("No difficulty"), "Sin dificultad"),
            1: (gettext_noop("Subjective tension and irritability"), "Tensión subjetiva e irritabilidad"),
            2: (gettext_noop("Worrying about minor matters"), "Preocupación por cosas menores"),
            3: (gettext_noop("Apprehensive attitude apparent"), "Actitud aprensiva evidente"),
            4: (
                gettext_noop("Fears expressed without questioning"),
                "Expresa temores sin que se le pregunte",
            ),
        },
    ),
    "11": (
        gettext_noop("Anxiety: somatic"),
        "Ansiedad somática",
        {
            0: (gettext_noop("Absent"), "Ausente"),
            1: (gettext_noop("Mild"), "Leve"),
            2: (gettext_noop("Moderate (clearly present)"), "Moderada (claramente presente)"),
            3: (gettext_noop("Severe"), "Grave"),
            4: (gettext_noop("Incapacitating"), "Incapacitante"),
        },
    ),
    "12": (
        gettext_noop("Somatic: gastrointestinal"),
        "Síntomas somáticos gastrointestinales",
        {
            0: (gettext_noop("None"), "Ninguno"),
            1: (
                gettext_noop("Loss of appetite, eats without encouragement"),
                "Pérdida de apetito, come sin que lo animen",
            ),
            2: (
                gettext_noop("Needs urging to eat or GI medication"),
                "Hay que insistirle para comer o requiere medicación GI",
            ),
        },
    ),
    "13": (
        gettext_noop("Somatic: general"),
        "Síntomas somáticos generales",
        {
            0: (gettext_noop("None"), "Ninguno"),
            1: (gettext_noop("Heaviness, aches, loss of energy"), "Pesadez, dolores, falta de energía"),
            2: (gettext_noop("Any clear-cut symptom"), "Cualquier síntoma claro"),
        },
    ),
    "14": (
        gettext_noop("Genital symptoms"),
        "Síntomas genitales",
        {
            0: (gettext_noop("Absent"), "Ausentes"),
            1: (gettext_noop("Mild"), "Leves"),
            2: (gettext_noop("Severe"), "Graves"),
        },
    ),
    "15": (
        gettext_noop("Hypochondriasis"),
        "Hipocondría",
        {
            0: (gettext_noop("Not present"), "Ausente"),
            1: (gettext_noop("Self-absorption (bodily)"), "Preocupación por su cuerpo"),
            2: (gettext_noop("Preoccupation with health"), "Preocupación por su salud"),
            3: (gettext_noop("Frequent complaints, requests for help"), "Quejas frecuentes, pide ayuda"),
            4: (gettext_noop("Hypochondriacal delusions"), "Delirios hipocondriacos"),
        },
    ),
    "16A": (
        gettext_noop("Loss of weight (by history)"),
        "Pérdida de peso (por historia)",
        {
            0: (gettext_noop("No weight loss"), "Sin pérdida de peso"),
            1: (
                gettext_noop("Probable loss linked to the illness"),
                "Probable pérdida ligada a la enfermedad",
            ),
            2: (gettext_noop("Definite loss reported"), "Pérdida definida referida"),
            3: (gettext_noop("Not assessed"), "No evaluado"),
        },
    ),
    "16B": (
        gettext_noop("Loss of weight (measured)"),
        "Pérdida de peso (medida)",
        {
            0: (gettext_noop("Less than 0.5 kg in the week"), "Menos de 0.5 kg en la semana"),
            1: (gettext_noop("More than 0.5 kg in the week"), "Más de 0.5 kg en la semana"),
            2: (gettext_noop("More than 1 kg in the week"), "Más de 1 kg en la semana"),
            3: (gettext_noop("Not assessed"), "No evaluado"),
        },
    ),
    "17": (
        gettext_noop("Insight"),
        "Introspección",
        {
            0: (gettext_noop("Knows they are depressed and ill"), "Reconoce estar deprimido y enfermo"),
            1: (
                gettext_noop("Ill, but blames food, climate, work, etc."),
                "Enfermo, pero lo atribuye a comida, clima, trabajo, etc.",
            ),
            2: (gettext_noop("Denies being ill"), "Niega estar enfermo"),
        },
    ),
}

_MADRS_NAMES = (
    (gettext_noop("Apparent sadness"), "Tristeza aparente"),
    (gettext_noop("Reported sadness"), "Tristeza referida"),
    (gettext_noop("Inner tension"), "Tensión interna"),
    (gettext_noop("Reduced sleep"), "Sueño reducido"),
    (gettext_noop("Reduced appetite"), "Apetito reducido"),
    (gettext_noop("Concentration difficulties"), "Dificultad de concentración"),
    (gettext_noop("Lassitude"), "Lasitud"),
    (gettext_noop("Inability to feel"), "Incapacidad para sentir"),
    (gettext_noop("Pessimistic thoughts"), "Pensamientos pesimistas"),
    (gettext_noop("Suicidal thoughts"), "Pensamientos suicidas"),
)
# Our own guidance at 0, 2, 4 and 6; 1, 3 and 5 lie in between.
_MADRS_GUIDE = (
    (gettext_noop("Not present"), "Ausente"),
    (gettext_noop("Mild or occasional"), "Leve u ocasional"),
    (gettext_noop("Clear and frequent, affects the day"), "Claro y frecuente, afecta el día"),
    (gettext_noop("Extreme and constant"), "Extremo y constante"),
)
MADRS_ITEMS_TEXT: dict[str, tuple[str, str, dict[int, tuple[str, str]]]] = {
    str(n): (
        en,
        es,
        {
            score: (
                _MADRS_GUIDE[score // 2]
                if score % 2 == 0
                else (gettext_noop("Between the neighbouring scores"), "Entre los puntajes vecinos")
            )
            for score in range(7)
        },
    )
    for n, (en, es) in enumerate(_MADRS_NAMES, start=1)
}


# Item wording per scale of the registry (clinimetry/scales.py); a new scale adds its table here.
TABLES = {"hdrs17": HDRS17_ITEMS, "madrs": MADRS_ITEMS_TEXT}


def item_table(instrument: str) -> dict[str, tuple[str, str, dict[int, tuple[str, str]]]]:
    return TABLES[instrument]


def spanish_catalogue() -> dict[str, str]:
    """English -> Spanish for every item name and guidance line (fed to the .po catalogue)."""
    pairs: dict[str, str] = {}
    for table in (HDRS17_ITEMS, MADRS_ITEMS_TEXT):
        for en, es, guide in table.values():
            pairs[en] = es
            for g_en, g_es in guide.values():
                pairs[g_en] = g_es
    return pairs
