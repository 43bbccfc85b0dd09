/**
 * The code lists behind `$language` (ISO 639-1) and `$region` (ISO 3166-1 alpha-2), SPEC §3.
 * Written out rather than asked of `Intl`: ICU also names historic, reserved and private-use
 * codes (YU, EU, ZZ, "iw"…), and its lists move with the runtime's version.
 */

export const LANGUAGE_MESSAGE = "Expected an ISO 639-1 language code, like fr.";
export const REGION_MESSAGE = "Expected an ISO 3166-1 alpha-2 region code, like FR.";

/** The 183 ISO 639-1 language codes. */
const LANGUAGES = new Set(
  `aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv dz ee el
   en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik io is it
   iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt
   my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl
   sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo
   za zh zu`.split(/\s+/),
);

/** Withdrawn codes that older Android releases still report (Java's legacy locale codes). */
const LANGUAGE_ALIASES: Record<string, string> = { iw: "he", in: "id", ji: "yi" };

/** The 249 ISO 3166-1 alpha-2 codes, plus XK (Kosovo), which iOS and Android report. */
const REGIONS = new Set(
  `AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY
   BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK
   FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR
   IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK
   ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
   PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF
   TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW`.split(/\s+/),
);

/** The ISO 639-1 code `value` names, in lower case (legacy aliases mapped); null if none. */
export function languageCode(value: string): string | null {
  const code = value.toLowerCase();
  const canonical = LANGUAGE_ALIASES[code] ?? code;
  return LANGUAGES.has(canonical) ? canonical : null;
}

/** The ISO 3166-1 alpha-2 code `value` names, in upper case; null if none. */
export function regionCode(value: string): string | null {
  const code = value.toUpperCase();
  return REGIONS.has(code) ? code : null;
}
