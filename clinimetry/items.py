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

# What each MADRS item covers and how to anchor it, in our own words (the published anchor text
# has a copyright holder and is not reproduced): shown under the item's name on the rating form.
MADRS_GUIDANCE: dict[str, tuple[str, str]] = {
    "1": (
        gettext_noop(
            "What you observe, not what is reported: gloom shown in face, posture and voice during "
            "the interview. Anchor on how persistent it is and whether the person can be cheered: "
            "0 none seen; 2 cheers up readily; 4 gloomy for most of the interview; 6 unrelievedly "
            "miserable throughout."
        ),
        "Lo que usted observa, no lo que se relata: abatimiento visible en el rostro, la postura y "
        "la voz durante la entrevista. Gradúe por su persistencia y por si la persona logra animarse: "
        "0 no se observa; 2 se anima con facilidad; 4 abatida la mayor parte de la entrevista; "
        "6 desdichada sin alivio todo el tiempo.",
    ),
    "2": (
        gettext_noop(
            "What the person tells you about low mood, hopelessness or feeling beyond help, whether "
            "or not it shows. Anchor on intensity, duration and how far events lift the mood: 0 "
            "occasional sadness that fits the circumstances; 2 sad, but the mood lifts at times; 4 "
            "low mood most of the time, still swayed by events; 6 unrelenting misery."
        ),
        "Lo que la persona le dice sobre ánimo bajo, desesperanza o sentirse sin remedio, se note o "
        "no. Gradúe por intensidad, duración y cuánto la animan los acontecimientos: 0 tristeza "
        "ocasional acorde a las circunstancias; 2 triste, pero el ánimo mejora a ratos; 4 ánimo bajo "
        "casi todo el tiempo, aún influido por lo que ocurre; 6 sufrimiento sin tregua.",
    ),
    "3": (
        gettext_noop(
            "Felt unease, edginess, inner turmoil, dread or panic as the person describes them. "
            "Anchor on intensity, frequency and how much reassurance helps: 0 calm; 2 occasional "
            "edginess; 4 continuous tension or bouts of panic that are hard to master; 6 unbearable "
            "dread or anguish."
        ),
        "Malestar, nerviosismo, agitación interior, temor o pánico tal como la persona los describe. "
        "Gradúe por intensidad, frecuencia y cuánto ayuda tranquilizarla: 0 tranquila; 2 nerviosismo "
        "ocasional; 4 tensión continua o crisis de pánico difíciles de dominar; 6 temor o angustia "
        "insoportables.",
    ),
    "4": (
        gettext_noop(
            "Shorter or shallower sleep than the person's own usual sleep when well; compare with "
            "that norm, not with a fixed number of hours. 0 sleeps as usual; 2 somewhat shorter or "
            "lighter sleep; 4 clearly shorter or broken nights, about two hours or more lost; 6 very "
            "little sleep most nights."
        ),
        "Sueño más corto o más superficial que el habitual de la persona cuando está bien; compare "
        "con esa referencia, no con un número fijo de horas. 0 duerme como siempre; 2 sueño algo "
        "más corto o ligero; 4 noches claramente más cortas o interrumpidas, unas dos horas o más "
        "perdidas; 6 duerme muy poco casi todas las noches.",
    ),
    "5": (
        gettext_noop(
            "Loss of appetite compared with when the person is well; rate the appetite, not the "
            "weight. 0 usual appetite; 2 somewhat less; 4 eats only by making an effort; 6 has to "
            "be pushed to eat at all."
        ),
        "Pérdida de apetito respecto a cuando la persona está bien; califique el apetito, no el "
        "peso. 0 apetito habitual; 2 algo menor; 4 come solo haciendo un esfuerzo; 6 hay que "
        "insistirle para que coma algo.",
    ),
    "6": (
        gettext_noop(
            "Trouble collecting one's thoughts, following a conversation, reading or deciding; "
            "judge by the effect on ordinary tasks. 0 none; 2 occasional lapses; 4 gets in the way "
            "of reading or conversation; 6 cannot follow anything without great effort."
        ),
        "Dificultad para ordenar las ideas, seguir una conversación, leer o decidir; juzgue por el "
        "efecto en las tareas cotidianas. 0 ninguna; 2 fallas ocasionales; 4 interfiere con la "
        "lectura o la conversación; 6 no puede seguir nada sin gran esfuerzo.",
    ),
    "7": (
        gettext_noop(
            "Difficulty getting started, or slowness in starting and doing everyday activities; "
            "not tiredness alone. 0 hardly any; 2 some trouble getting going; 4 needs great effort "
            "for simple routines; 6 cannot do anything without help."
        ),
        "Dificultad para arrancar, o lentitud al iniciar y realizar las actividades cotidianas; no "
        "solo cansancio. 0 casi ninguna; 2 le cuesta algo ponerse en marcha; 4 necesita gran "
        "esfuerzo para rutinas sencillas; 6 no puede hacer nada sin ayuda.",
    ),
    "8": (
        gettext_noop(
            "Less interest in surroundings and activities, and a reduced ability to feel pleasure, "
            "anger, grief or closeness to people. 0 usual interest and feelings; 2 enjoys things "
            "less than usual; 4 little interest in people or activities; 6 feelings for close "
            "people and surroundings seem gone, often a painful experience."
        ),
        "Menor interés en el entorno y las actividades, y menor capacidad de sentir placer, enojo, "
        "pena o cercanía con otros. 0 interés y sentimientos habituales; 2 disfruta menos que de "
        "costumbre; 4 poco interés en personas o actividades; 6 los sentimientos hacia personas "
        "cercanas y el entorno parecen perdidos, a menudo con sufrimiento.",
    ),
    "9": (
        gettext_noop(
            "Thoughts of guilt, inferiority, self-blame, failure or ruin; rate their content and "
            "how fixed they are. 0 none; 2 self-blame that comes and goes; 4 persistent "
            "self-accusation or gloomy views of the future, still open to reason; 6 fixed beliefs "
            "of ruin or sin that cannot be shifted."
        ),
        "Pensamientos de culpa, inferioridad, autorreproche, fracaso o ruina; califique su "
        "contenido y cuán fijos son. 0 ninguno; 2 autorreproches que van y vienen; 4 autoacusación "
        "persistente o visión sombría del futuro, aún abierta a razones; 6 convicciones fijas de "
        "ruina o pecado que no ceden.",
    ),
    "10": (
        gettext_noop(
            "The sense that life is not worth living, wishes to die, suicidal thoughts and any "
            "preparation. Ask directly. 0 enjoys life or takes it as it comes; 2 weary of life, "
            "passing thoughts of death; 4 would rather be dead, suicidal thoughts are frequent; 6 "
            "explicit plans or preparations. A high score starts the suicide-risk procedure."
        ),
        "La sensación de que la vida no vale la pena, deseos de morir, pensamientos suicidas y "
        "cualquier preparativo. Pregunte directamente. 0 disfruta la vida o la toma como viene; "
        "2 cansada de vivir, pensamientos pasajeros de muerte; 4 preferiría estar muerta, los "
        "pensamientos suicidas son frecuentes; 6 planes o preparativos explícitos. Un puntaje alto "
        "activa el procedimiento de riesgo suicida.",
    ),
}

# CADSS (Bremner et al. 1998), infusion-day dissociation: short names and guidance in our own
# words, not the scale's questions. Every item is scored for the time asked about (before the
# start, or at 40 min) on the same five steps.
_CADSS_STEPS: dict[int, tuple[str, str]] = {
    0: (gettext_noop("Not at all"), "Nada"),
    1: (gettext_noop("Slightly"), "Levemente"),
    2: (gettext_noop("Moderately"), "Moderadamente"),
    3: (gettext_noop("Considerably"), "Considerablemente"),
    4: (gettext_noop("Extremely"), "Extremadamente"),
}
# item code -> (name en, name es, guidance en, guidance es)
_CADSS: dict[str, tuple[str, str, str, str]] = {
    "1": (
        gettext_noop("Slow motion"),
        "Cámara lenta",
        gettext_noop(
            "Movements and events around the person seemed slowed down, as in a slow-motion film. "
            "1: a brief, faint slowing; 4: everything seemed slowed throughout."
        ),
        "Los movimientos y sucesos alrededor parecían más lentos, como en cámara lenta. 1: una "
        "lentitud breve y tenue; 4: todo parecía lento todo el tiempo.",
    ),
    "2": (
        gettext_noop("Unreality, as in a dream"),
        "Irrealidad, como en un sueño",
        gettext_noop(
            "The surroundings felt unreal, dreamlike or staged. 1: a fleeting sense of unreality; "
            "4: nothing felt real for most of the time asked about."
        ),
        "El entorno se sentía irreal, como un sueño o un escenario. 1: una sensación pasajera de "
        "irrealidad; 4: nada parecía real la mayor parte del tiempo evaluado.",
    ),
    "3": (
        gettext_noop("Apart from what happens"),
        "Ajeno a lo que ocurre",
        gettext_noop(
            "A sense of being separated from what is happening, as if acting in a film or a play, "
            "or moving like a robot. 1: brief and mild; 4: constant and overwhelming."
        ),
        "Sensación de estar separado de lo que ocurre, como actuando en una película u obra, o "
        "moviéndose como un robot. 1: breve y leve; 4: constante y abrumadora.",
    ),
    "4": (
        gettext_noop("Seeing from outside the body"),
        "Verse desde fuera del cuerpo",
        gettext_noop(
            "Seeing things, or oneself, as if from a point outside the body; score only a reported "
            "change of viewpoint. 1: a passing impression; 4: a vivid, sustained view from outside."
        ),
        "Ver las cosas, o a sí mismo, como desde un punto fuera del cuerpo; califique solo un cambio "
        "de perspectiva referido. 1: una impresión pasajera; 4: una visión desde fuera vívida y "
        "sostenida.",
    ),
    "5": (
        gettext_noop("Watching as an onlooker"),
        "Observar como espectador",
        gettext_noop(
            "Watching events as an onlooker instead of taking part in them. 1: now and then; 4: "
            "felt like a spectator throughout."
        ),
        "Observar los sucesos como espectador en lugar de participar en ellos. 1: de vez en "
        "cuando; 4: se sintió espectador todo el tiempo.",
    ),
    "6": (
        gettext_noop("Disconnected from the body"),
        "Desconectado del cuerpo",
        gettext_noop(
            "Feeling cut off from one's own body, as if it did not belong to oneself. 1: slight; 4: "
            "complete and lasting."
        ),
        "Sentirse desconectado del propio cuerpo, como si no le perteneciera. 1: leve; 4: completo "
        "y duradero.",
    ),
    "7": (
        gettext_noop("Body feels changed"),
        "Cuerpo percibido distinto",
        gettext_noop(
            "The body feels larger, smaller, heavier, lighter or differently shaped. 1: subtle; 4: "
            "striking and persistent."
        ),
        "El cuerpo se siente más grande, más pequeño, más pesado, más ligero o de otra forma. 1: "
        "sutil; 4: marcado y persistente.",
    ),
    "8": (
        gettext_noop("People seem lifeless"),
        "Personas sin vida",
        gettext_noop(
            "Other people seem motionless, lifeless or machine-like. 1: a brief impression; 4: "
            "everyone seemed so throughout."
        ),
        "Las demás personas parecen inmóviles, sin vida o como máquinas. 1: una impresión breve; "
        "4: todos lo parecían todo el tiempo.",
    ),
    "9": (
        gettext_noop("Objects look different"),
        "Objetos de aspecto distinto",
        gettext_noop(
            "Objects look other than expected in shape, size, distance or texture. 1: slight; 4: "
            "marked distortion of most things."
        ),
        "Los objetos se ven distintos de lo esperado en forma, tamaño, distancia o textura. 1: "
        "leve; 4: distorsión marcada de casi todo.",
    ),
    "10": (
        gettext_noop("Colours dimmed"),
        "Colores apagados",
        gettext_noop(
            "Colours look faded or duller than usual. 1: slightly less vivid; 4: as if drained of colour."
        ),
        "Los colores se ven desvaídos o más apagados que de costumbre. 1: algo menos vivos; 4: "
        "como si hubieran perdido el color.",
    ),
    "11": (
        gettext_noop("Tunnel or wide-angle vision"),
        "Visión en túnel o gran angular",
        gettext_noop(
            "Seeing as through a tunnel, or with the edges bent as through a wide-angle lens. 1: "
            "slight narrowing or bending; 4: strong, constant distortion of the field of view."
        ),
        "Ver como a través de un túnel, o con los bordes curvados como por un lente gran angular. "
        "1: leve estrechamiento o curvatura; 4: distorsión fuerte y constante del campo visual.",
    ),
    "12": (
        gettext_noop("Time stretched"),
        "Tiempo alargado",
        gettext_noop(
            "The experience seems to last far longer than expected. 1: a little longer; 4: time "
            "seemed to stretch without end."
        ),
        "La experiencia parece durar mucho más de lo esperado. 1: un poco más; 4: el tiempo "
        "parecía alargarse sin fin.",
    ),
    "13": (
        gettext_noop("Time rushing"),
        "Tiempo acelerado",
        gettext_noop(
            "Time seems to rush, as if a great deal happened in a moment. 1: slight; 4: extreme acceleration."
        ),
        "El tiempo parece correr, como si mucho ocurriera en un instante. 1: leve; 4: aceleración extrema.",
    ),
    "14": (
        gettext_noop("Events not accounted for"),
        "Sucesos sin explicación",
        gettext_noop(
            "Things happened that the person cannot account for afterwards; ask for concrete "
            "examples. 1: a minor uncertainty; 4: long stretches unexplained."
        ),
        "Ocurrieron cosas que la persona no puede explicar después; pida ejemplos concretos. 1: "
        "una incertidumbre menor; 4: lapsos largos sin explicación.",
    ),
    "15": (
        gettext_noop("Spacing out"),
        "Ausencias, pierde el hilo",
        gettext_noop(
            "Spacing out or losing track of what is going on; observe as well as ask. 1: a brief "
            "lapse; 4: repeatedly absent and hard to engage."
        ),
        "Se ausenta o pierde el hilo de lo que ocurre; observe además de preguntar. 1: un lapso "
        "breve; 4: ausente una y otra vez y difícil de involucrar.",
    ),
    "16": (
        gettext_noop("Sounds fade or swell"),
        "Sonidos apagados o intensos",
        gettext_noop(
            "Sounds fade away or become much louder than expected. 1: a slight change; 4: sounds "
            "almost vanish or become overwhelming."
        ),
        "Los sonidos se desvanecen o se vuelven mucho más fuertes de lo esperado. 1: un cambio "
        "leve; 4: los sonidos casi desaparecen o se vuelven abrumadores.",
    ),
    "17": (
        gettext_noop("Unusual clarity"),
        "Claridad inusual",
        gettext_noop(
            "Things seem unusually vivid or real, with a special sharpness. 1: slight sharpening; "
            "4: an intense, compelling clarity."
        ),
        "Las cosas parecen inusualmente vívidas o reales, con una nitidez especial. 1: leve "
        "aumento de nitidez; 4: una claridad intensa e irresistible.",
    ),
    "18": (
        gettext_noop("World through a fog"),
        "Mundo entre niebla",
        gettext_noop(
            "The world looks as if seen through fog or haze, people and objects distant or blurred. "
            "1: a slight haze; 4: dense and constant."
        ),
        "El mundo se ve como entre niebla o bruma, con personas y objetos lejanos o borrosos. 1: "
        "una bruma leve; 4: densa y constante.",
    ),
    "19": (
        gettext_noop("Colours brighter"),
        "Colores más brillantes",
        gettext_noop("Colours look much brighter than usual. 1: slightly brighter; 4: dazzling."),
        "Los colores se ven mucho más brillantes que de costumbre. 1: algo más brillantes; 4: deslumbrantes.",
    ),
    "20": (
        gettext_noop("Unsure who one is"),
        "Duda sobre quién es",
        gettext_noop(
            "Confusion about who one really is. 1: a passing doubt; 4: deep uncertainty about one's "
            "own identity."
        ),
        "Confusión sobre quién es realmente. 1: una duda pasajera; 4: incertidumbre profunda sobre "
        "la propia identidad.",
    ),
    "21": (
        gettext_noop("Parts of self apart"),
        "Partes de sí que no encajan",
        gettext_noop(
            "A sense that different parts of oneself do not fit together. 1: slight; 4: strong and "
            "persistent."
        ),
        "Sensación de que distintas partes de uno mismo no encajan entre sí. 1: leve; 4: fuerte y "
        "persistente.",
    ),
    "22": (
        gettext_noop("Gaps in memory"),
        "Lagunas de memoria",
        gettext_noop(
            "Gaps in memory for the time asked about; check against what happened. 1: a small gap; "
            "4: large parts of the time not remembered."
        ),
        "Lagunas de memoria del tiempo evaluado; contraste con lo ocurrido. 1: una laguna pequeña; "
        "4: no recuerda gran parte de ese tiempo.",
    ),
    "23": (
        gettext_noop("Blank spells"),
        "Momentos en blanco",
        gettext_noop(
            "Staring into space or losing time without noticing; observe as well as ask. 1: brief; "
            "4: frequent or long."
        ),
        "Mirada perdida o tiempo perdido sin darse cuenta; observe además de preguntar. 1: breves; "
        "4: frecuentes o largos.",
    ),
}
CADSS_ITEMS_TEXT: dict[str, tuple[str, str, dict[int, tuple[str, str]]]] = {
    code: (en, es, _CADSS_STEPS) for code, (en, es, _g, _ges) in _CADSS.items()
}
CADSS_GUIDANCE: dict[str, tuple[str, str]] = {code: (g, ges) for code, (_en, _es, g, ges) in _CADSS.items()}


# Item wording per scale of the registry (clinimetry/scales.py); a new scale adds its table here.
TABLES = {"hdrs17": HDRS17_ITEMS, "madrs": MADRS_ITEMS_TEXT, "cadss": CADSS_ITEMS_TEXT}
# What an item covers and how to anchor it, where the per-score lines alone do not say it (HDRS-17's
# lines are item-specific anchors already).
GUIDANCE: dict[str, dict[str, tuple[str, str]]] = {"madrs": MADRS_GUIDANCE, "cadss": CADSS_GUIDANCE}


def item_table(instrument: str) -> dict[str, tuple[str, str, dict[int, tuple[str, str]]]]:
    return TABLES[instrument]


def item_guidance(instrument: str, code: str) -> str:
    """The English guidance of one item (translate it with gettext to show it), or ""."""
    return GUIDANCE.get(instrument, {}).get(code, ("", ""))[0]


def spanish_catalogue() -> dict[str, str]:
    """English -> Spanish for every item name and guidance line (fed to the .po catalogue)."""
    pairs: dict[str, str] = {}
    for table in TABLES.values():
        for en, es, guide in table.values():
            pairs[en] = es
            for g_en, g_es in guide.values():
                pairs[g_en] = g_es
    for guidance in GUIDANCE.values():
        pairs.update(dict(guidance.values()))
    return pairs
