"""Fixed rules that recognise site chrome lines in scraped article text (RE2 syntax, for Arrow)."""

from __future__ import annotations

# Every pattern is matched against one stripped line, case-insensitively, and must cover the
# whole line: a rule removes a line only when the line is nothing but chrome.

_MONTH = (r"(january|february|march|april|may|june|july|august|september|october|november|december"
          r"|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)")
#: A date as pages print it: "January 2, 2020", "2 Jan. 2020".
_DATE = r"(" + _MONTH + r"\.? \d{1,2},? \d{4}|\d{1,2} " + _MONTH + r"\.? \d{4})"

#: A counter: "12 Comments", "No Comments", "Shares 14", "Comments (4)", "Views: 1,203".
_COUNTER = (r"((no|one|\d[\d,.]*k?) (comments?|responses?|shares?|views?|reads?|likes?)"
            r"|(comments?|responses?|shares?|views?|reads?|likes?)\s*(:\s*\d[\d,.]*k?|\d[\d,.]*k?|\(\d[\d,.]*k?\)))")

#: Lines that are always chrome, wherever they stand.
CHROME_LINES = [
    r"(©|\(c\)|copyright\b).{0,160}",
    r".{0,80}\ball rights reserved\.?",
    r"%d bloggers like this:?",
    r"(like|share) this:?|like",
    r"like loading\.*|loading\.\.\.",
    r"((share|tweet|email|print|pin|facebook|twitter|whatsapp|telegram|linkedin|reddit|pinterest|messenger|x)( on \w+)?[\s|·•,]*){1,10}",
    r"click to (share|email|print).{0,80}",
    r"(leave a (reply|comment)|cancel reply|post a comment|add a comment|join the discussion|reply|post comment|submit)( cancel reply)?\.?",
    r"you must be logged in to post a comment\.?|comments are (moderated|closed).{0,80}",
    r"(name|email|website|comment|your email)\s*\*?",
    _COUNTER + r"(\s*[|·•,]\s*" + _COUNTER + r"){0,5}",
    r"[\w.' -]{2,40} says:",
    r"your email address will not be published\..{0,80}",
    r"(required fields are marked|save my name, email).{0,160}",
    r".{0,160}\b(use of|uses?|accept|allow|consent to|about) (our )?cookies\b.{0,200}",
    r"(accept( all)?( cookies)?|manage (cookie )?(preferences|settings)|cookie (policy|settings))",
    r"(subscribe|sign up)( now)?( (to|for) (our|the) (daily |weekly )?(newsletter|updates|briefing).{0,160})?",
    r"(tags?|filed under|categories|category|topics?)\s*:.{0,300}",
    r"(posted|published|updated|last updated)( on| at)?\s*:?\s.{0,80}",
    r"(by [\w.'’ -]{2,40}|by .{2,60}\|.{0,160}|by [\w.'’ -]{2,40}\s[-–—,]\s*" + _DATE + r".{0,40})"
    r"|(written|reported) by [\w.'’ -]{2,40}( on [\w ,.:]{4,40})?(\W+(reading|read) time\W+\d+ min(ute)?s?( read)?)?\.?"
    r"|(reading|read) time\s*:?\s*\d+ min(ute)?s?|\d+ min(ute)?s? read",
    r"((monday|tuesday|wednesday|thursday|friday|saturday|sunday),? )?" + _DATE + r"( at \d{1,2}:\d{2}( ?[ap]m)?)?.{0,40}",
    r"\d+ (seconds?|minutes?|mins?|hours?|days?|weeks?) ago",
    # Navigation, not a sentence that opens with "Next" or "Older": an arrow, a colon or a nav noun.
    r"(«|‹|<|←)\s*(previous|next|older|newer)\b.{0,200}"
    r"|(previous|next|older|newer) (posts?|articles?|stor(y|ies)|entries|entry|page)\b.{0,200}"
    r"|(previous|next|older|newer)\s*(»|›|>|→|:).{0,200}|(previous|next|older|newer)",
    r".{0,200}\s(»|›|→)",
    r"(«|‹|←)\s.{0,200}",
    r"home\s*(»|›|>|/|\||·|•)\s*.{0,200}",
    r"(advertisement|sponsored content|read more|read also|see also|continue reading|click here to read more|skip to (main )?content)\.?",
    r"(trending( now)?|most (read|popular|viewed))\s*:.{0,300}",
    r"(source|sources|credit|via)\s*:.{0,80}",
    r"this (story|article|report) (was|is) (provided|supplied|written|produced) by .{0,80}",
    r"[—–-]\s*[\w./]{2,30}( [\w./]+){0,2}",  # "— Reuters", "- Staff": three words at most, never a list item
    r"(proudly )?powered by .{0,120}",
    r"(related|related (posts|articles|stories|news)|you (may|might) also like|more (from|stories|news|like this|in this (category|section)).{0,60}|recommended( for you)?|post navigation|comments|trending( now)?|most (read|popular|viewed)|read next|don.t miss|latest (news|posts|stories)|popular (posts|stories|now)|in other news|top (stories|news)|editor.s picks|tags|topics|tagged)\s*:?",
]

#: The name each rule of CHROME_LINES is counted under in stats.json (`lines_removed`).
CHROME_RULE_NAMES = [
    "copyright", "rights_reserved", "bloggers_like", "like_share", "like_loading", "share_buttons",
    "click_to_share", "comment_form", "comment_rules", "comment_fields", "counter", "commenter_says",
    "email_notice", "required_fields", "cookie_notice", "cookie_buttons", "newsletter", "tag_list",
    "posted_stamp", "byline", "date_stamp", "time_ago", "previous_next", "nav_arrow_right",
    "nav_arrow_left", "breadcrumb", "link_label", "trending_list", "source_credit", "provided_by",
    "dash_line", "powered_by", "section_label",
]
assert len(CHROME_RULE_NAMES) == len(CHROME_LINES) == len(set(CHROME_RULE_NAMES))

_MES = r"(enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|diciembre)"
#: Spanish forms of the rules, counted under the same names: chrome words are per language.
SPANISH = {
    "rights_reserved": r".{0,80}\btodos los derechos reservados\.?",
    "like_share": r"(comparte|compartir) (esto|esta noticia|en redes)\s*:?|me gusta( esto)?:?",
    "like_loading": r"cargando\.*",
    "share_buttons": r"((compartir|comparte|imprimir|enviar por correo|correo)( en \pL+)?[\s|·•,]*){1,10}",
    "click_to_share": r"(haz )?clic (para|aquí para) (compartir|imprimir|enviar).{0,80}",
    "comment_form": r"(deja|dejar|escribe) (un|una|tu) (comentario|respuesta)|cancelar respuesta|publicar comentario"
                    r"|responder|enviar comentario",
    "comment_rules": r"(debes|tienes que) (iniciar sesión|estar registrado).{0,80}|los comentarios están cerrados.{0,80}",
    "comment_fields": r"(nombre|correo electrónico|correo|sitio web|web|comentario)\s*\*?",
    "counter": r"((sin|un|\d[\d.,]*) (comentarios?|visitas|lecturas|compartidos))(\s*[|·•,]\s*(sin|un|\d[\d.,]*) "
               r"(comentarios?|visitas|lecturas|compartidos)){0,5}",
    "commenter_says": r"(\S+ ){1,5}(dice|dijo):",  # words, not letters{2,40}: a Unicode class repeated 40 times bloats the DFA
    "email_notice": r"tu (dirección de )?correo electrónico no será publicad[oa]\..{0,80}",
    "required_fields": r"(los campos obligatorios están marcados|guardar? mi nombre, correo).{0,160}",
    "cookie_notice": r".{0,160}\b(utiliza|utilizamos|usa|usamos|acepta|aceptas|aceptar|uso de|sobre) (las |nuestras |propias )?"
                     r"cookies\b.{0,200}",
    "cookie_buttons": r"aceptar( todas)?( las cookies)?|configurar cookies|(política|configuración) de cookies|rechazar",
    "newsletter": r"(suscríbete|suscribirse|apúntate|regístrate)( (a|en) (nuestro|nuestra|el|la) (boletín|newsletter).{0,160})?",
    "tag_list": r"(etiquetas|temas|archivado en|categorías?)\s*:.{0,300}",
    "posted_stamp": r"(publicado|actualizado|última actualización)( el| a las)?\s*:?\s.{0,80}",
    "byline": r"(?-i:[Pp]or \p{Lu}[\pL.'’-]+( (de |del |la )?\p{Lu}[\pL.'’-]+){0,4})(\s*[|,-]\s*.{0,60})?",
    "date_stamp": r"((lunes|martes|miércoles|jueves|viernes|sábado|domingo),? )?\d{1,2} de " + _MES + r"( de)? \d{4}"
                  r"( (a las )?\d{1,2}:\d{2}( h)?)?.{0,40}",
    "time_ago": r"hace \d+ (segundos?|minutos?|horas?|días?|semanas?)",
    "previous_next": r"(«|‹|<|←)?\s*(anterior|siguiente)\s*(»|›|>|→)?"
                     r"|(entrada|artículo|noticia|publicación|post) (anterior|siguiente)\b.{0,200}",
    "breadcrumb": r"inicio\s*(»|›|>|/|\||·|•)\s*.{0,200}",
    "link_label": r"(publicidad|leer más|lee también|ver también|seguir leyendo|sigue leyendo|saltar al contenido)\.?",
    "trending_list": r"(lo más (leído|visto)|tendencias)\s*:.{0,300}",
    "source_credit": r"(fuente|fuentes|vía|foto|imagen)\s*:.{0,80}",
    "powered_by": r"(funciona|desarrollado) con .{0,120}",
    "section_label": r"(relacionad[oa]s?|noticias relacionadas|artículos relacionados|te puede interesar|también te puede"
                     r" interesar|más (noticias|leído|leídas)|lo más (leído|visto)|comentarios|etiquetas|temas)\s*:?",
}
assert set(SPANISH) <= set(CHROME_RULE_NAMES)
CHROME_LINES = [f"{pattern}|{SPANISH[name]}" if name in SPANISH else pattern
                for name, pattern in zip(CHROME_RULE_NAMES, CHROME_LINES)]

#: Lines after which, once the article has begun, nothing more belongs to it.
TAIL_MARKERS = [
    r"leave a (reply|comment)( cancel reply)?",
    r"related|related (posts|articles|stories|news)|you may also like|recommended( for you)?",
    r"more (from|stories|news|like this|in this (category|section)).{0,60}|trending( now)?|most (read|popular|viewed)",
    r"read next|you might also like|don.t miss|latest (news|posts|stories)|popular (posts|stories|now)|in other news"
    r"|top (stories|news)|editor.s picks",
    r"post navigation|comments|share this:?|like this:?|%d bloggers like this:?",
    r"(no|\d+) (comments?|responses?|replies|thoughts on .{0,200})",
    # Spanish
    r"(deja|dejar) (un|una) (comentario|respuesta)|noticias relacionadas|artículos relacionados|(también )?te puede interesar"
    r"|lo más (leído|visto)|más noticias|(sin|\d+) comentarios?",
]

#: A wire dateline opening a paragraph ("MADRID, 3 Jan. (EUROPA PRESS) -", "Paris (AFP) -"):
#: removed from the line, which may go on with the article's first sentence.
#: The parenthesis must name a news agency: "Monetary Policy Committee (MPC) - Paul Tucker" opens
#: a sentence, not a dateline.
#: News agencies by the name the `agency` column gives them, with the other names they go by.
AGENCY_NAMES = {
    "Europa Press": [], "Reuters": [], "AFP": ["Agence France-Presse", "Agence France Presse"],
    "AP": ["Associated Press", "The Associated Press"], "EFE": ["Agencia EFE"], "dpa": [], "ANSA": [],
    "PA Media": ["PA", "Press Association"], "Xinhua": ["Xinhua News Agency"], "Kyodo": ["Kyodo News"], "UPI": [],
    "Bloomberg": [], "IANS": [], "PTI": ["Press Trust of India"], "ANI": [], "AAP": ["Australian Associated Press"],
    "The Canadian Press": ["CP", "Canadian Press"], "Yonhap": [], "TASS": [], "Interfax": [], "Sputnik": [],
    "Anadolu": ["Anadolu Agency"], "Lusa": [], "Belga": [], "APA": [], "SDA": [], "NTB": [], "TT": [],
    "Bernama": [], "Antara": [], "WAM": [], "SPA": [], "KUNA": [], "MENA": [], "IRNA": [], "CNA": [],
    "Jiji": ["Jiji Press"], "Notimex": [], "Prensa Latina": [], "Servimedia": [],
}
#: Every name an agency goes by (lower case) -> the name the `agency` column gives it.
AGENCY_OF = {alias.lower(): name for name, aliases in AGENCY_NAMES.items() for alias in [name, *aliases]}
AGENCIES = sorted(AGENCY_OF, key=len, reverse=True)
DATELINE = (r"(?m)^[A-Z][\w.'’ -]{1,40}?(?:,\s*[\w .]{1,25}?)?\s*\((?P<agency>(?i:"
            + "|".join(a.replace(" ", r"\s") for a in AGENCIES) + r"))\)[ \t]*\.?[ \t]*[-–—]+[ \t]*")
#: An agency named in a credit line (copyright, source, "— Reuters"): as written or in capitals,
#: never in lower case ("ap" or "pa" inside a word or a sentence are no credits).
_CASED = sorted({form for alias in (a for n, al in AGENCY_NAMES.items() for a in [n, *al]) for form in (alias, alias.upper())},
                key=len, reverse=True)
AGENCY_CREDIT = r"\b(?P<agency>" + "|".join(a.replace(" ", r"\s") for a in _CASED) + r")\b"
# An agency's name alone in brackets, "(dpa)", "(EUROPA PRESS)": its credit line.
CHROME_LINES.append(r"\(\s*(" + "|".join(a.replace(" ", r"\s") for a in AGENCIES) + r")\s*\)\.?")
CHROME_RULE_NAMES.append("agency_credit")
assert len(CHROME_RULE_NAMES) == len(CHROME_LINES)
#: The removed lines that may carry an agency's credit.
CREDIT_RULES = ["copyright", "rights_reserved", "source_credit", "dash_line", "provided_by", "agency_credit"]

#: A teaser of another story: a snippet cut off with an ellipsis, under a headline-like line (which
#: goes too), with no article paragraph after it. Quotes and reader comments ending in "..." inside
#: an article are no teasers.
TEASER_LINE = r"(?i)^.{40,}(\.\.\.|…|\[(\.\.\.|…)\])(\s*(read more|continue reading|more)\W{0,3})?$"
TEASER_MAX_WORDS = 45
#: A line that can be a teaser's headline: short, not a sentence ending in a full stop.
HEADLINE_MAX_WORDS = 20
#: A previous/next label with nothing else on its line: the next line is the linked headline.
NAV_LABEL = (r"(?i)^(«|‹|<|←)?\s*(previous|next|older|newer)( (posts?|articles?|stor(y|ies)|entry|entries|page))?"
             r"\s*(»|›|>|→|:)?$")
#: A tag list's label on a line of its own: the tags follow one per line.
TAG_LABEL = r"(?i)^(tags?|topics?|tagged( with)?|filed under)\s*:?$"
#: A line that can be one tag: a few words, no sentence punctuation.
TAG_WORDS = 3

#: A list item: a line opening with a bullet, a dash or a number; runs of them are article lists.
LIST_ITEM = r"^([-–—•*·▪]|\d{1,2}[.)])\s+\S"

#: A line of at least this many words is article body; teasers and end markers count only after
#: `BODY_BEFORE_TAIL` such lines, so a page whose top mentions "Comments" is not cut short.
BODY_WORDS = 20
BODY_BEFORE_TAIL = 2
#: A sentence of at least this many words is prose: two of them say a short story has begun.
PROSE_WORDS = 8


def whole_line(patterns: list[str]) -> str:
    """One case-insensitive RE2 pattern that matches a line made only of one of `patterns`."""
    return "(?i)^(?:" + "|".join(f"(?:{p})" for p in patterns) + r")$"
