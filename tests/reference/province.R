# What R's survey package makes of the reference province's satisfaction report.
#
#   Rscript tests/reference/province.R province.json province_expected.json
#
# (tests/reference/province.py runs it.) From the unit records alone: base weights 1/p for SMS
# respondents, post-stratification (postStratify) to the dossiers returned per office x merged
# service group, variance strata = post-stratum x channel with the finite-population correction
# of the dossiers a stratum stands for, lonely.psu = "adjust". Every question, element and index
# is a domain of that one design (subset), as mscore's methodology says:
#   items     svymean on subset(design, office & answered)
#   elements  svycontrast of svytotal(satisfied_k, answered_k): mean over items of s_k / a_k
#   index     the same over the five elements' means
# Intervals: Wilson's score interval with the effective size p(1 - p) / se^2 (the Kish size at 0
# or 1), Student's t on degf of the domain, clipped to [0, 1]; mean scores +- t se clipped to
# [1, 5]; changes by MOVER (Newcombe; Zou & Donner) from the two months' intervals.
suppressMessages({
  library(survey)
  library(jsonlite)
})
options(survey.lonely.psu = "adjust")
args <- commandArgs(trailingOnly = TRUE)
prov <- fromJSON(args[1], simplifyVector = FALSE)
level <- 0.95
elements <- prov$elements
items <- unlist(elements, use.names = FALSE)
questions <- c("overall", items)

units_of <- function(period) {
  rs <- Filter(function(r) r$period == period && r$integrity == "valid", prov$responses)
  u <- data.frame(
    office = vapply(rs, function(r) r$office, ""),
    channel = vapply(rs, function(r) r$channel, ""),
    p = vapply(rs, function(r) r$probability, 0),
    poststratum = vapply(rs, function(r) r$poststratum, ""),
    stringsAsFactors = FALSE
  )
  u$group <- vapply(u$office, function(o) prov$offices[[o]]$group, "")
  for (q in questions) {
    at <- match(q, unlist(prov$questions))
    v <- vapply(rs, function(r) if (is.null(r$answers[[at]])) NA_real_ else r$answers[[at]], 0)
    u[[paste0("a_", q)]] <- as.numeric(!is.na(v))
    u[[paste0("s_", q)]] <- ifelse(is.na(v), 0, as.numeric(v >= 4))
    u[[paste0("v_", q)]] <- ifelse(is.na(v), 0, v)
  }
  ds <- Filter(function(d) d$period == period, prov$dossiers)
  pop <- aggregate(
    list(Freq = vapply(ds, function(d) d$returned, 0)),
    list(poststratum = vapply(ds, function(d) d$poststratum, "")),
    sum
  )
  u$base <- ifelse(u$channel == "sms", 1 / u$p, 1)
  n_g <- pop$Freq[match(u$poststratum, pop$poststratum)]
  u$weight <- n_g * u$base / ave(u$base, u$poststratum, FUN = sum)
  u$stratum <- paste(u$poststratum, u$channel)
  n_h <- ave(rep(1, nrow(u)), u$stratum, FUN = sum)
  w_h <- ave(u$weight, u$stratum, FUN = sum)
  # A stratum stands for the dossiers its weights add up to; no correction if fewer than its
  # respondents (more QR answers than dossiers).
  u$fpc <- ifelse(w_h >= n_h * (1 - 1e-9), pmax(w_h, n_h), Inf)
  d <- svydesign(ids = ~1, strata = ~stratum, weights = ~base, fpc = ~fpc, data = u)
  d <- postStratify(d, ~poststratum, pop[pop$poststratum %in% u$poststratum, ])
  stopifnot(isTRUE(all.equal(as.vector(weights(d)), u$weight, tolerance = 1e-12)))
  list(u = u, d = d)
}

wilson <- function(p, var, df, kish) {
  if (is.na(p) || df <= 0) return(c(NA, NA))
  t <- qt(1 - (1 - level) / 2, df)
  r <- if (p <= 0 || p >= 1) 1 / kish else var / (p * (1 - p))
  centre <- p + t^2 * r / 2
  half <- t * sqrt(p * (1 - p) * r + t^2 * r^2 / 4)
  pmin(pmax(c(centre - half, centre + half) / (1 + t^2 * r), 0), 1)
}

domain <- function(design, u, inside) {
  w <- weights(design)[inside]
  list(n = sum(inside), n_eff = sum(w)^2 / sum(w^2), df = degf(subset(design, inside)))
}

estimate <- function(value, se, dom, boundary) {
  # An estimate at exactly 0 or 1 (every answer satisfied, or none) has no variance.
  if (!is.na(boundary)) {
    value <- boundary
    se <- 0
  }
  ci <- wilson(value, se^2, dom$df, dom$n_eff)
  list(value = value, se = se, low = ci[1], high = ci[2], n = dom$n, n_eff = dom$n_eff,
       df = dom$df)
}

boundary_of <- function(sat, ans) {
  if (all(sat[ans == 1] == 1)) return(1)
  if (all(sat[ans == 1] == 0)) return(0)
  NA
}

item <- function(s, unit, q) {
  u <- s$u
  inside <- unit & u[[paste0("a_", q)]] == 1
  if (!any(inside)) return(NULL)
  sub <- subset(s$d, inside)
  share <- svymean(as.formula(paste0("~s_", q)), sub)
  score <- svymean(as.formula(paste0("~v_", q)), sub)
  dom <- domain(s$d, u, inside)
  out <- estimate(coef(share)[[1]], SE(share)[[1]], dom,
                  boundary_of(u[[paste0("s_", q)]][inside], rep(1, sum(inside))))
  t <- qt(1 - (1 - level) / 2, dom$df)
  out$mean <- coef(score)[[1]]
  out$mean_low <- if (dom$df > 0) max(out$mean - t * SE(score)[[1]], 1) else NA
  out$mean_high <- if (dom$df > 0) min(out$mean + t * SE(score)[[1]], 5) else NA
  out
}

index <- function(s, unit, codes_by_element) {
  # codes_by_element: list of item code vectors; the index is the mean of their item means
  u <- s$u
  codes <- unlist(codes_by_element)
  answered <- as.matrix(u[, paste0("a_", codes), drop = FALSE])
  inside <- unit & rowSums(answered) > 0
  if (!any(inside)) return(NULL)
  vars <- c(paste0("s_", codes), paste0("a_", codes))
  tot <- svytotal(as.formula(paste("~", paste(vars, collapse = "+"))), subset(s$d, unit))
  if (any(coef(tot)[paste0("a_", codes)] == 0)) {
    dom <- domain(s$d, u, inside)
    return(list(value = NA, se = NA, low = NA, high = NA, n = dom$n, n_eff = dom$n_eff,
                df = dom$df))
  }
  parts <- vapply(codes_by_element, function(cs) {
    paste0("(", paste0("s_", cs, "/a_", cs, collapse = " + "), ")/", length(cs))
  }, "")
  expr <- parse(text = paste0("(", paste(parts, collapse = " + "), ")/", length(parts)))[[1]]
  con <- svycontrast(tot, expr)
  sat <- as.matrix(u[inside, paste0("s_", codes), drop = FALSE])
  ans <- answered[inside, , drop = FALSE]
  estimate(coef(con)[[1]], SE(con)[[1]], domain(s$d, u, inside), boundary_of(sat, ans))
}

report <- function(s) {
  u <- s$u
  one <- function(unit) {
    list(
      questions = setNames(lapply(questions, function(q) item(s, unit, q)), questions),
      elements = setNames(lapply(names(elements), function(e) index(s, unit, elements[e])),
                          names(elements)),
      index = index(s, unit, elements)
    )
  }
  offices <- sort(unique(u$office))
  groups <- sort(unique(u$group))
  list(
    offices = setNames(lapply(offices, function(o) one(u$office == o)), offices),
    groups = setNames(lapply(groups, function(g) one(u$group == g)), groups)
  )
}

mover <- function(before, after) {
  if (is.null(before) || is.null(after) || is.na(before$value) || is.na(after$value) ||
      is.na(before$low) || is.na(after$low)) return(NULL)
  d <- after$value - before$value
  list(diff = d,
       low = d - sqrt((after$value - after$low)^2 + (before$high - before$value)^2),
       high = d + sqrt((after$high - after$value)^2 + (before$value - before$low)^2))
}

changes <- function(before, after) {
  lapply(setNames(names(after), names(after)), function(k) {
    b <- before[[k]]
    a <- after[[k]]
    list(
      questions = lapply(setNames(questions, questions), function(q) mover(b$questions[[q]], a$questions[[q]])),
      elements = lapply(setNames(names(elements), names(elements)), function(e) mover(b$elements[[e]], a$elements[[e]])),
      index = mover(b$index, a$index)
    )
  })
}

current <- report(units_of("current"))
previous <- report(units_of("previous"))
out <- list(
  r = paste("R", getRversion(), "survey", packageVersion("survey")),
  current = current,
  previous = previous,
  change = list(offices = changes(previous$offices, current$offices),
                groups = changes(previous$groups, current$groups))
)
writeLines(toJSON(out, auto_unbox = TRUE, null = "null", na = "null", digits = NA,
                  pretty = TRUE), args[2])
