"use strict";
// The Periodic task form (django-celery-beat): under the crontab, its translation into words.
(function () {
  const data = document.getElementById("readable-crontabs");
  const select = document.getElementById("id_crontab");
  const help = document.querySelector(".field-crontab .help");
  if (!data || !select || !help) return;
  const readable = JSON.parse(data.textContent);
  const original = help.textContent;
  const translation = document.querySelector(".field-crontab_translation");
  if (translation) translation.hidden = true;
  select.addEventListener("change", function () {
    const words = readable[select.value];
    help.textContent = words ? original + " Translation: " + words : original;
  });
})();
