"""Countries, cities, names and email domains, with the weights people are drawn from."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from itertools import accumulate
from typing import Final


@dataclass(frozen=True)
class Country:
    """What varies by country: names, cities, email domains, currency."""

    code: str
    currency: str
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    cities: tuple[str, ...]
    domains: tuple[str, ...]
    domain_cum_weights: tuple[float, ...]


def _country(
    code: str,
    currency: str,
    first: str,
    last: str,
    cities: str,
    domains: dict[str, float],
) -> Country:
    return Country(
        code=code,
        currency=currency,
        first_names=tuple(first.split()),
        last_names=tuple(last.split()),
        cities=tuple(c.replace("_", " ") for c in cities.split()),
        domains=tuple(domains),
        domain_cum_weights=tuple(accumulate(domains.values())),
    )


COUNTRIES: Final = (
    _country(
        "US",
        "USD",
        "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
        "Richard Susan Joseph Jessica Thomas Sarah Chris Karen Daniel Lisa Matthew Nancy "
        "Anthony Betty Mark Sandra Steven Ashley Andrew Kimberly Joshua Emily Kevin Donna Brian "
        "Michelle Jose Carol Maria Amanda Luis Melissa Jamal Aaliyah Wei Mei Priya Arjun Jane "
        "Tyler Madison Ethan Olivia Noah Sofia Liam Ava",
        "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
        "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
        "White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott "
        "Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell "
        "Carter Roberts O'Brien Kim Patel Chen Doe",
        "New_York Los_Angeles Chicago Houston Phoenix Philadelphia San_Antonio San_Diego Dallas "
        "Austin Seattle Denver Boston Portland Atlanta Miami Minneapolis San_Francisco Nashville "
        "Columbus",
        {
            "gmail.com": 42,
            "yahoo.com": 13,
            "icloud.com": 10,
            "outlook.com": 8,
            "hotmail.com": 8,
            "aol.com": 4,
            "comcast.net": 3,
            "proton.me": 2,
            "me.com": 2,
            "att.net": 2,
        },
    ),
    _country(
        "GB",
        "GBP",
        "Oliver George Harry Jack Amelia Isla Ava Emily Sophie Charlotte Thomas James William "
        "Poppy Freya Alfie Charlie Grace Lucy Harriet",
        "Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright Thompson Evans "
        "Walker White Roberts Green Hall Wood Jackson Clarke",
        "London Manchester Birmingham Leeds Glasgow Bristol Liverpool Edinburgh Cardiff Brighton",
        {
            "gmail.com": 35,
            "hotmail.co.uk": 15,
            "yahoo.co.uk": 12,
            "outlook.com": 10,
            "btinternet.com": 8,
            "icloud.com": 8,
            "sky.com": 5,
        },
    ),
    _country(
        "CA",
        "CAD",
        "Liam Emma Noah Olivia William Charlotte Lucas Chloe Benjamin Mia Logan Emily Ethan "
        "Sophie Jacob Alice Nathan Léa Samuel Zoé",
        "Smith Brown Tremblay Martin Roy Wilson Gagnon Lee Johnson MacDonald Taylor Campbell "
        "Anderson Côté Bouchard Gauthier Morin Lavoie Fortin Leblanc",
        "Toronto Montreal Vancouver Calgary Edmonton Ottawa Winnipeg Quebec_City Halifax Victoria",
        {
            "gmail.com": 40,
            "hotmail.com": 15,
            "yahoo.ca": 10,
            "outlook.com": 10,
            "rogers.com": 8,
            "shaw.ca": 7,
            "icloud.com": 8,
        },
    ),
    _country(
        "DE",
        "EUR",
        "Lukas Leon Finn Jonas Paul Felix Anna Lea Lena Hannah Sophie Marie Julia Laura Jürgen "
        "Sabine Thomas Andrea Stefan Katrin",
        "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer Koch "
        "Bauer Richter Klein Wolf Schröder Neumann Schwarz Zimmermann",
        "Berlin Hamburg München Köln Frankfurt Stuttgart Düsseldorf Leipzig Dresden Hannover",
        {
            "gmx.de": 25,
            "web.de": 22,
            "gmail.com": 25,
            "t-online.de": 12,
            "outlook.de": 8,
            "posteo.de": 4,
            "icloud.com": 4,
        },
    ),
    _country(
        "FR",
        "EUR",
        "Gabriel Louis Raphaël Jules Adam Lucas Léo Hugo Emma Jade Louise Alice Chloé Léa Manon "
        "Camille Inès Sarah Éric Hélène",
        "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent "
        "Lefèvre Michel Garcia David Bertrand Roux Vincent Fournier",
        "Paris Marseille Lyon Toulouse Nice Nantes Strasbourg Montpellier Bordeaux Lille",
        {
            "gmail.com": 35,
            "orange.fr": 18,
            "free.fr": 12,
            "hotmail.fr": 10,
            "laposte.net": 8,
            "sfr.fr": 8,
            "yahoo.fr": 6,
        },
    ),
)
COUNTRY_CUM_WEIGHTS: Final = tuple(accumulate((80.0, 6.0, 6.0, 4.0, 4.0)))
"""Mostly US, some GB, CA, DE and FR (same order as COUNTRIES)."""

WORK_DOMAINS: Final = (
    "northwind.example",
    "contoso.example",
    "initech.example",
    "globex.example",
    "hooli.example",
    "acme.example",
)


def ascii_slug(name: str) -> str:
    """Lowercase ASCII letters of a name for email local parts ('Lefèvre' -> 'lefevre')."""
    for umlaut, spelled in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        name = name.replace(umlaut, spelled)
    folded = unicodedata.normalize("NFKD", name)
    return "".join(c for c in folded.lower() if "a" <= c <= "z")
