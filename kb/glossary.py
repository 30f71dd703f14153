"""German and French questions searched in English: the library's documents are English, and
the bundled embedder reads English only, so a question in German or French is searched by
the English words of its terms (a glossary of the field's vocabulary: migration, work,
residence, recognition, asylum, fees and time). No translation model ships offline; a
glossary of the words members ask with finds the right documents (the answer still says
the library answers in English, kb/questions.py).

German compounds are split into known parts ("Fachkräfteverfahren" = "Fachkräfte" +
"verfahren"); French elisions are undone ("l'emploi" = "emploi").
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from kb.text import FUNCTION_WORDS, terms

# One term a line: its German or French forms (comma-separated), "=", the English words.
_GERMAN = """
aufenthaltstitel, aufenthaltserlaubnis = residence permit
aufenthalt = residence stay
niederlassungserlaubnis = settlement permit permanent residence
daueraufenthalt = permanent residence
visum, visa, visums = visa
einreise, einreisen = entry enter
ausreise = departure exit
reisepass, pass = passport
personalausweis, ausweis = identity card
blaue karte, blauen karte = eu blue card
chancenkarte = opportunity card
fachkräfte, fachkraft, fachkräften = skilled workers skilled worker
fachkräfteeinwanderungsgesetz = skilled immigration act
beschleunigte, beschleunigten, beschleunigtes = fast-track accelerated
verfahren, verfahrens = procedure
anerkennung, anerkennungsverfahren = recognition
berufsabschlüsse, berufsabschluss, abschluss, abschlüsse = qualification qualifications
berufsqualifikation, berufsqualifikationen, qualifikation = professional qualification
ausländische, ausländischer, ausländischen = foreign
ausländerbehörde = foreigners authority immigration office
bundesagentur für arbeit, bundesagentur, arbeitsagentur = federal employment agency
ausländerzentralregister, azr = central register of foreign nationals
zentralstelle für ausländisches bildungswesen, zab = central office for foreign education
volkshochschule, volkshochschulen, vhs = adult education centre
zentralstelle = central office
bildungswesen = education
arbeitgeber, arbeitgebers = employer
arbeitnehmer, beschäftigte = employee worker
arbeit, arbeiten, erwerbstätigkeit, beschäftigung = work employment
arbeitsvertrag, vertrag = employment contract
unbefristeten, unbefristet = permanent
befristet, befristeten = fixed-term
gehalt, lohn, bruttogehalt, verdienen = salary gross salary earn
gehaltsgrenze, mindestgehalt = salary threshold minimum salary
gebühr, gebühren, kosten, kostet = fee fees cost
geld, konto, ersparnisse = money funds bank account savings
krankenversichert, krankenversicherung = health insurance
versicherung, versichert = insurance insured
rente, rentenversicherung = pension insurance
sprachkenntnisse, deutschkenntnisse, sprache = language skills german language
deutsch, deutschen, deutsche = german
englisch = english
familie, familienangehörige, familiennachzug = family members family reunification
ehepartner, ehegatte, partner = spouse partner
kinder, kind = children child
schüler, schule, klassenfahrt = pupils school school party trip
flüchtling, flüchtlinge, geflüchtete = refugee refugees
asyl, asylbewerber, asylantrag = asylum asylum seeker
schutz, internationaler schutz = protection international protection
abschiebung, überstellung = removal transfer
mitgliedstaat, mitgliedstaaten = member state member states
ki-verordnung, ki = ai act artificial intelligence
verordnung = regulation
richtlinie = directive
gesetz = act law
antrag, beantragen, antragsteller = application apply applicant
genehmigung, zustimmung = approval
entscheidung = decision
dauer, dauert, lange = duration how long takes
monate, monaten, monat = months
wochen, woche = weeks
jahre, jahren, jahr = years
tage, tagen, tag = days
stunden = hours
insgesamt = total
vergleich, verglichen, normalen = compared standard
wie viel, wieviel, viele = how much how many
staatsangehörige, staatsangehörigen, staatsangehörigkeit = nationals nationality
ohne = without
wechsel, wechseln, arbeitgeberwechsel = change switch
jobsuche, arbeitsuche, suche = job search looking for work
selbstständig, selbständig = self-employed
studium, studenten, studierende = study students
ausbildung, berufsausbildung = vocational training
mangelberufe, engpassberufe = shortage occupations
pflege, pflegekräfte, krankenpfleger = care nursing nurses
erzieher, erzieherin, erzieherinnen = educators childcare workers
kita, kitas, kindertagesstätte = childcare day care
ärzte, arzt = doctors
apotheker, apothekerin, apothekerinnen = pharmacists pharmacist
zahnärzte, zahnarzt = dentists
tierärzte, tierarzt = veterinarians veterinary surgeons
hebamme, hebammen = midwives
altenpflege, altenpfleger, altenpflegerin = elderly care care workers
ingenieure, ingenieur, ingenieurin = engineers
informatiker, it-fachkräfte, it-fachkraft = it specialists
softwareentwickler, entwickler = software developers programmers
lehrer, lehrerin, lehrkräfte = teachers
berufskraftfahrer, kraftfahrer = drivers professional drivers
elektriker = electricians
köche, koch = chefs cooks
handwerker, handwerk = craftsmen skilled trades
meister, meisterin = master craftsman
wohnung, miete, kaution = housing rent deposit
britische, britischen, großbritannien, vereinigtes königreich = uk united kingdom british
deutschland = germany
arbeitserlaubnis = work permit
einwanderung, zuwanderung, migration = immigration migration
einwanderer, zuwanderer, migranten = migrants immigrants
integration, integrationskurs = integration integration course
prüfung, test = exam test
bearbeitungszeit, bearbeitung = processing time processing
termin = appointment
botschaft, konsulat, auslandsvertretung = embassy consulate mission abroad
freizügigkeit = free movement
eu-bürger, unionsbürger = eu citizen
arbeitslos, arbeitslosigkeit = unemployed unemployment
sozialversicherung = social security
saisonarbeit, saisonarbeitskräfte = seasonal work seasonal workers
pilotprojekte, pilotprojekt = pilot projects
konferenz, tagung = conference
netzwerk = network
""".strip()

_FRENCH = """
titre de séjour, permis de séjour = residence permit
séjour = stay residence
carte de résident, résident de longue durée = permanent residence settlement
visa, visas = visa
entrée, entrer, entré = entry enter
passeport = passport
carte bleue européenne, carte bleue = eu blue card
travailleurs qualifiés, main-d'œuvre qualifiée = skilled workers
travail, travailler, emploi = work employment job
demandeur d'emploi, chercheur d'emploi = jobseeker job seeker
employeur, employeurs, entreprise, entreprises = employer employers companies
salarié, salariés, travailleur, travailleurs = employee worker workers
contrat = contract
salaire, rémunération = salary pay
seuil = threshold
frais, coût, coûte, payer, taxe = fee fees cost pay
budget = budget
argent, compte, épargne, économies = money funds savings bank account
caution, loyer, louer, appartement, logement = deposit rent apartment housing
assurance maladie, assurance = health insurance insurance
reconnaissance = recognition
diplôme, diplômes, qualification, qualifications = qualification degree
programme de diplôme = degree programme
gestion des migrations = migration management
migration, migrations, migrants, migrant = migration migrants
famille, membres de la famille, regroupement familial = family members family reunification
conjoint, partenaire = spouse partner
enfants, enfant = children child
réfugié, réfugiés = refugee refugees
asile, demandeur d'asile = asylum asylum seeker
protection internationale, bénéficiaire = international protection beneficiary
sanctionné, sanctions, pénalités = penalties penalised
illégalement, irrégulièrement = illegal entry illegally
autorités, autorité = authorities authority
pays d'accueil, état membre d'accueil = host member state host country
état membre, états membres = member state member states
règlement = regulation
directive = directive
loi = act law
demande, demander, demandeur = application apply applicant
décision = decision
délai = time limit deadline
combien de temps, durée = how long duration
combien = how many how much
mois = months
semaines, semaine = weeks
ans, années, année = years
jours, jour = days
heures = hours
personnes, participants = people participants
assisté, assister = attended
événement = event
projets pilotes, projet pilote = pilot projects
parlement européen = european parliament
occidentale, occidental = west western
université = university
allemagne, allemand, allemande = germany german
royaume-uni, britannique = uk united kingdom british
nationalité, ressortissants = nationality nationals
travailleurs saisonniers, saisonnier = seasonal workers
soins, infirmiers, infirmières = care nursing nurses
formation = training
permis de travail, autorisation de travail = work permit
immigration, immigrés = immigration immigrants
intégration = integration
examen, test = exam test
ambassade, consulat = embassy consulate
rendez-vous = appointment
traitement = processing
citoyen de l'union, citoyens de l'union, citoyen européen = eu citizen
libre circulation = free movement
chômage, chômeur = unemployment unemployed
sécurité sociale = social security
conférence = conference
réseau = network
partenariats, partenariat = partnerships partnership
talents = talent
""".strip()


def _fold(text: str) -> str:
    """Lower case without accents: 'Schüler' and 'schuler', 'réfugié' and 'refugie' meet."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("œ", "oe")


_TOKEN = re.compile(r"[\w'’-]+")
_ELISION = re.compile(r"^(l|d|qu|n|s|c|j|m|t)['’]", re.I)


def _words(text: str, language: str) -> list[tuple[str, str]]:
    """Each content word as written and folded, elisions undone and function words left out
    (the same on both sides: "membres de la famille" is matched as "membres famille")."""
    function_words = _function_words(language)
    words = [_ELISION.sub("", w) for w in _TOKEN.findall(text)]
    return [(w, _fold(w)) for w in words if _fold(w) not in function_words]


@cache
def _function_words(language: str) -> frozenset[str]:
    return frozenset(_fold(w) for w in FUNCTION_WORDS[language])


@cache
def _glossary(language: str) -> dict[str, str]:
    table = {"de": _GERMAN, "fr": _FRENCH}[language]
    entries: dict[str, str] = {}
    for line in table.splitlines():
        forms, english = line.split("=")
        for form in forms.split(","):
            entries[" ".join(f for _, f in _words(form, language))] = english.strip()
    return entries


def _compound_parts(word: str, glossary: dict[str, str]) -> list[str] | None:
    """A German compound as two known words, the longest head first ("fachkrafteverfahren"),
    or None."""
    for split in range(len(word) - 3, 3, -1):
        head, tail = word[:split], word[split:]
        if head in glossary:
            rest = tail if tail in glossary else tail[1:] if tail[1:] in glossary else None
            if rest is not None:  # a linking "s" ("Arbeitsvertrag") is dropped
                return [head, rest]
    return None


def in_english(question: str, language: str) -> str:
    """The question's terms in English, with the words it shares with English (names,
    acronyms, numbers, "Health and Care Worker") kept as they are."""
    glossary = _glossary(language)
    words = _words(question, language)
    out: list[str] = []
    i = 0
    while i < len(words):
        for size in (3, 2, 1):  # the longest known phrase first ("carte bleue européenne")
            phrase = " ".join(f for _, f in words[i : i + size])
            if size <= len(words) - i and phrase in glossary:
                out.append(glossary[phrase])
                i += size
                break
        else:
            written, folded = words[i]
            parts = _compound_parts(folded, glossary) if language == "de" else None
            out.append(" ".join(glossary[p] for p in parts) if parts else written)
            i += 1
    return " ".join(out)


def english_for(word: str) -> str | None:
    """The English of one German or French word of an English question ("Ausländerbehörde",
    "Deutschland"), or None: a name in the documents' original language counts as mentioned
    where the English text says it in English."""
    for language in ("de", "fr"):
        glossary = _glossary(language)
        folded = _fold(_ELISION.sub("", word.strip("'’")))
        if folded in glossary:
            return glossary[folded]
        if language == "de" and (parts := _compound_parts(folded, glossary)):
            return " ".join(glossary[p] for p in parts)
    return None


def glossed(question: str) -> str:
    """An English question with the English of the German or French names it uses added
    ("Volkshochschule": "adult education centre"): the documents say them in English. A
    word the glossary gives back as itself ("Migration", "Conference") adds nothing."""
    added = dict.fromkeys(
        english
        for word in _TOKEN.findall(question)[1:]  # not the capital that starts the question
        if word[:1].isupper()
        and (english := english_for(word))
        and not set(terms(word)) <= set(terms(english))
    )
    return f"{question} ({'; '.join(added)})" if added else question


# How German terms end ("-ung", "-schaft", "-behörde", "-amt"), besides their umlauts.
_GERMAN_ENDINGS = re.compile(
    r"(ung|ungen|schaft|schaften|keit|heit|behörde|behorde|gesetz|verordnung|amt|rat)$"
)


def looks_german(word: str) -> bool:
    """Whether a word of an English question reads as a German term ("Betriebsrat",
    "Anerkennungspartnerschaft", "Auswärtiges"): an English text writes such a term in
    English, so its absence from the passages says nothing."""
    lower = re.sub(r"['’]s$", "", word.lower())
    return bool(re.search("[äöüß]", lower) or _GERMAN_ENDINGS.search(lower))
