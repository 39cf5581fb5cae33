from django import forms
from django.utils.text import slugify

from apps.incidents.models import Project


class ProjectForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        slug = slugify(name)
        if not slug:
            raise forms.ValidationError("Use at least one letter or digit.")
        if Project.objects.filter(slug=slug).exists():
            raise forms.ValidationError("A project with this name already exists.")
        return name
