"""The IOMAD tables that tie users and courses to companies (``local/iomad/db/install.xml``)."""

from .xmldb import TableSpec, char, index, integer, text, unique

COMPANY = TableSpec(
    "company",
    "IOMAD companies",
    (
        char("name", 50),
        char("shortname", 25),
        char("code", 255, notnull=False),
        text("address"),
        char("city", 50),
        char("region", 50, notnull=False),
        char("postcode", 20, notnull=False),
        char("country", 2),
        integer("maildisplay", 2, default="2"),
        integer("mailformat", 1, default="1"),
        integer("maildigest", 1, default="0"),
        integer("autosubscribe", 1, default="1"),
        integer("trackforums", 1, default="0"),
        integer("htmleditor", 1, default="1"),
        integer("screenreader", 1, default="0"),
        char("timezone", 100, default="99"),
        char("lang", 30, default="en"),
        char("bgcolor_header", 7, notnull=False),
        char("bgcolor_content", 7, notnull=False),
        char("theme", 50),
        integer("category", 20, default="0"),
        integer("profileid", default="0"),
        integer("suspended", 1, default="0"),
        text("customcss"),
        char("maincolor", 20, notnull=False),
        char("headingcolor", 20, notnull=False),
        char("linkcolor", 20, notnull=False),
        integer("emailprofileid", 20, notnull=False),
        integer("supervisorprofileid", default="0"),
        integer("managernotify", default="0"),
        integer("parentid", 20, default="0"),
        integer("ecommerce", 1, default="0"),
        text("custommenuitems"),
        integer("managerdigestday", 1, default="0"),
        integer("previousroletemplateid", 20, default="0"),
        integer("previousemailtemplateid", 20, default="0"),
        char("hostname", 200, notnull=False),
        integer("maxusers", 20, default="0"),
        integer("validto", 20, notnull=False),
        integer("suspendafter", notnull=False),
        integer("companyterminated", 1, default="0"),
        char("custom1", 255, notnull=False),
        char("custom2", 255, notnull=False),
        char("custom3", 255, notnull=False),
        integer("paymentaccount", notnull=False),
        integer("departmentprofileid", 20, default="0"),
    ),
    (index("shortname", "shortname"), index("name", "name"), index("parentid", "parentid")),
)

COMPANY_USERS = TableSpec(
    "company_users",
    "Users of each company and department",
    (
        integer("companyid"),
        integer("userid"),
        integer("managertype", 1, default="0"),
        integer("departmentid"),
        integer("suspended", 1, default="0"),
        integer("educator", 1, default="0"),
        integer("lastused", 20, notnull=False),
    ),
    (unique("companyid_userid_departmentid", "companyid", "userid", "departmentid"),),
)

COMPANY_COURSE = TableSpec(
    "company_course",
    "Courses of each company",
    (integer("companyid", 11), integer("courseid", 11), integer("departmentid")),
    (index("companyid_courseid", "companyid", "courseid"), index("departmentid_courseid", "departmentid", "courseid")),
)

IOMAD_TABLES = (COMPANY, COMPANY_USERS, COMPANY_COURSE)
