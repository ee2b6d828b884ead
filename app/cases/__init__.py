"""Filed cases (立案案件) and 倒查: the cases the police filed, matched against the reports of the member units
that had contact with the child; a unit named in a case that it did not report is "应报未报" (DOMAIN.md)."""
